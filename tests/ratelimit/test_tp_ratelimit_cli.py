#!/usr/bin/env python3
"""`tp ratelimit`: --check / --print-config of the example, line-numbered config errors,
and a short run on private directories (JSON up/stopped lines with per-mapping stats).

usage: test_tp_ratelimit_cli.py TP_BINARY EXAMPLE_CONFIG
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what)


def run(tp, args, env=None, timeout=60):
    p = subprocess.run([tp, "ratelimit"] + args, capture_output=True, text=True, timeout=timeout, env=env)
    check(p.returncode >= 0, "tp ratelimit %s crashed with signal %d" % (" ".join(args), -p.returncode))
    return p


def main():
    tp, example = sys.argv[1], sys.argv[2]
    p = run(tp, ["--check", example])
    check(p.returncode == 0, "example config is valid (%s)" % p.stderr)
    p = run(tp, ["--print-config", example])
    check(p.returncode == 0 and "dest_stream_id = 10001" in p.stdout, "print-config shows the mapping")
    p = run(tp, [])
    check(p.returncode == 2 and "configuration file is required" in p.stderr, "no config: usage error")
    tmp = tempfile.mkdtemp(prefix="tp-test-rlcli-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('[rate_limiter]\ninstance_id = "x"\ndescriptor_channel = "aeron:ipc"\n'
                    'descriptor_stream_id = 1101\nmax_rate_hz = "fast"\n'
                    '[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n')
        p = run(tp, ["--check", bad])
        check(p.returncode == 1 and "bad.toml:5" in p.stderr and "max_rate_hz" in p.stderr,
              "bad value reported with file:line and key (%s)" % p.stderr.strip())
        with open(bad, "w") as f:
            f.write('[rate_limiter]\ninstance_id = "x"\ndescriptor_channel = "aeron:ipc"\n'
                    'descriptor_stream_id = 1101\nforward_qos = true\n'
                    '[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n')
        p = run(tp, ["--check", bad])
        check(p.returncode == 1 and "source_qos_stream_id" in p.stderr, "forward_qos without ids fails fast")
        # a short run on private dirs
        shm = os.path.join(tmp, "shm")
        transport = os.path.join(tmp, "transport")
        os.mkdir(shm)
        os.mkdir(transport)
        env = dict(os.environ, TP_TRANSPORT_BACKEND="embedded", TP_TRANSPORT_DIR=transport, TP_SHM_BASE_DIR=shm)
        p = run(tp, [example, "--duration", "0.3"], env=env)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        check(p.returncode == 0, "run exits 0 (%s)" % p.stderr)
        check(len(lines) == 2, "two JSON lines (got %r)" % p.stdout)
        if len(lines) == 2:
            up, down = json.loads(lines[0]), json.loads(lines[1])
            check(up.get("ratelimit") == "up" and up["mappings"][0]["dest_stream_id"] == 10001, "up line")
            check(up["mappings"][0]["rate_hz"] == 10, "configured rate")
            check(down.get("ratelimit") == "stopped" and "rate" in down["mappings"][0]["drops"], "stopped line")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`tp ratelimit`: --check / --print-config of the example, line-numbered config errors,
and a short run on private directories (JSON up/stopped lines with per-mapping stats).

Multi-process end to end: `tp_example_producer` (stream 10000, 100 Hz) -> `tp ratelimit`
(10 Hz) -> `tp_example_consumer` (stream 10001), three processes: every frame the
consumer reads is intact (the bytes the producer wrote for that seq).

usage: test_tp_ratelimit_cli.py TP_BINARY EXAMPLE_CONFIG PRODUCER CONSUMER
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
    tp, example, producer, consumer = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
        # three processes: producer -> rate limiter -> consumer
        rl = subprocess.Popen([tp, "ratelimit", example, "--duration", "30"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        try:
            rl.stdout.readline()  # "up": the agent's clients exist
            cons = subprocess.Popen([consumer, "--stream", "10001", "--duration", "20", "--until-seq", "1000000",
                                     "--check", "full"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            prod = subprocess.run([producer, "--stream", "10000", "--rate", "100", "--frames", "300", "--size",
                                   "4096", "--wait-consumers", "1"], env=env, capture_output=True, text=True,
                                  timeout=60)
            check(prod.returncode == 0, "producer exits 0 (%s)" % prod.stderr.strip())
        finally:
            rl.terminate()
            out, err = rl.communicate(timeout=30)
        stopped = [json.loads(l) for l in out.splitlines() if l.startswith('{"ratelimit":"stopped"')]
        check(len(stopped) == 1, "rate limiter printed its stats (%r %r)" % (out, err))
        cons.terminate()
        cout, cerr = cons.communicate(timeout=30)
        lines = [json.loads(l) for l in cout.splitlines() if l.startswith("{")]
        check(len(lines) == 1, "consumer printed its summary (%r %r)" % (cout, cerr))
        if lines and stopped:
            c = lines[-1]
            m = stopped[0]["mappings"][0]
            print("  consumer:", c)
            print("  rate limiter:", m)
            check(c["frames"] >= 1, "frames reached the consumer through the rate limiter")
            check(c["intact"] == c["frames"] and c["torn"] == 0, "every frame intact")
            check(c["last_seq"] <= 299, "destination seqs are source seqs")
            check(m["frames_out"] >= c["frames"], "the consumer read only republished frames")
            check(m["frames_in"] <= 300, "the agent saw at most the source's frames")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`tp discovery query` / `tp discovery serve` against a real `tp driver` with the embedded
provider and a producer attached through it (tp_example_producer --driver), on private
directories under /dev/shm/tp-test-*; and argument errors are usage errors (exit 2).
Kills only the processes it started, removes only its own directory.

usage: test_tp_discovery.py TP PRODUCER
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what)


def query(tp, tdir, *args, expect_rc=0):
    p = subprocess.run([tp, "discovery", "query", "--transport-dir", tdir, "--json"] + list(args),
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == expect_rc, "query %s: exit %d (stderr %r)" % (args, p.returncode, p.stderr))
    try:
        return json.loads(p.stdout) if p.returncode == 0 else None
    except ValueError:
        check(False, "query %s: JSON output (got %r)" % (args, p.stdout))
        return None


def query_until(tp, tdir, want, *args):
    deadline = time.monotonic() + 10
    out = None
    while time.monotonic() < deadline:
        out = query(tp, tdir, *args)
        if out is not None and len(out["results"]) == want:
            return out
        time.sleep(0.2)
    return out


def main():
    tp, producer = sys.argv[1:3]
    # usage errors
    for argv, needle in ((["query", "--stream-id", "x"], "--stream-id"), (["query", "--tag", ""], "--tag"),
                         (["query", "--bogus"], "unknown"), (["bogus"], "unknown"),
                         (["query", "--request-stream-id", "0"], "--request-stream-id"),
                         (["serve", "--duration", "-1"], "--duration")):
        p = subprocess.run([tp, "discovery"] + argv, capture_output=True, text=True, timeout=10)
        check(p.returncode == 2, "tp discovery %s exits 2 (got %d)" % (argv, p.returncode))
        check(needle in p.stderr, "tp discovery %s: message names %r (got %r)" % (argv, needle, p.stderr))

    root = tempfile.mkdtemp(prefix="tp-test-disc-", dir="/dev/shm")
    procs = []
    try:
        tdir = os.path.join(root, "transport")
        sdir = os.path.join(root, "shm")
        os.makedirs(tdir)
        os.makedirs(sdir)
        # no provider: a clear failure, not a hang
        p = subprocess.run([tp, "discovery", "query", "--transport-dir", tdir, "--timeout-ms", "100",
                            "--attempts", "2"], capture_output=True, text=True, timeout=30)
        check(p.returncode == 1 and "no response" in p.stderr, "query without a provider fails (%r)" % p.stderr)

        cfg = os.path.join(root, "driver.toml")
        with open(cfg, "w") as f:
            f.write('[driver]\ntransport_dir = "%s"\n[shm]\nbase_dir = "%s"\n'
                    '[policies]\nannounce_period_ms = 100\n'
                    '[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 1024 }]\n'
                    '[streams.s]\nstream_id = 10000\nprofile = "p"\n'
                    '[discovery]\nenabled = true\n'
                    '[discovery.streams.cam]\nstream_id = 10000\ntags = ["camera", "Front"]\n'
                    'data_source_name = "cam \\"front\\""\n' % (tdir, sdir))
        drv = subprocess.Popen([tp, "driver", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(drv)
        line = drv.stdout.readline()
        check('"driver":"up"' in line, "driver up (got %r)" % line)
        prod = subprocess.Popen([producer, "--transport-dir", tdir, "--shm-dir", sdir, "--driver", "--stream",
                                 "10000", "--duration", "30", "--rate", "10"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(prod)

        out = query_until(tp, tdir, 1, "--stream-id", "10000")
        check(out is not None and out["status"] == "OK", "embedded: status OK (%r)" % out)
        if out and out["results"]:
            r = out["results"][0]
            check(r["stream_id"] == 10000, "stream id")
            check(r["driver_instance_id"] == "driver-01", "authority instance id")
            check(r["driver_control_stream_id"] == 1000, "authority control stream")
            check(sorted(r["tags"]) == ["Front", "camera"], "full tag set (%r)" % r["tags"])
            check(r["data_source_name"] == 'cam "front"', "name round trip with quotes (%r)" % r["data_source_name"])
            check(r["payload_pools"][0]["stride_bytes"] == 1024, "pool stride")
        out = query(tp, tdir, "--tag", "camera", "--tag", "Front")
        check(out is not None and len(out["results"]) == 1, "tags AND match")
        out = query(tp, tdir, "--tag", "camera", "--tag", "rear")
        check(out is not None and out["status"] == "OK" and len(out["results"]) == 0, "missing tag: OK, none")
        text = subprocess.run([tp, "discovery", "query", "--transport-dir", tdir, "--stream-id", "10000"],
                              capture_output=True, text=True, timeout=30)
        check(text.returncode == 0 and "authority driver-01" in text.stdout, "text output (%r)" % text.stdout)

        # the standalone provider, fed by the driver's announces
        srv = subprocess.Popen([tp, "discovery", "serve", "--transport-dir", tdir], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        procs.append(srv)
        line = srv.stdout.readline()
        check('"discovery":"up"' in line, "serve up (got %r)" % line)
        out = query_until(tp, tdir, 1, "--request-stream-id", "7000")
        check(out is not None and len(out["results"]) == 1, "standalone finds the stream (%r)" % out)
        srv.send_signal(signal.SIGTERM)
        rest, _ = srv.communicate(timeout=10)
        check('"discovery":"stopped"' in rest, "serve prints its counters (%r)" % rest)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

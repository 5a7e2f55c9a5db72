#!/usr/bin/env python3
"""Two `tp driver` processes on one control stream (a deployment error, Driver Model §2.1, DRV-15):
once a producer attaches (both answer), each driver prints a {"driver":"conflict",...} line and its exit
counters carry foreign_driver_messages > 0. Private directories under /dev/shm/tp-test-*; kills only the
processes it started, removes only its own directory.

usage: test_tp_driver_conflict.py TP PRODUCER
"""
import json
import os
import select
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


def read_lines_until(proc, needle, timeout_s):
    """Lines of proc's stdout until one contains needle (returned) or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                return None
            if needle in line:
                return line
    return None


def main():
    tp, producer = sys.argv[1:3]
    root = tempfile.mkdtemp(prefix="tp-test-drvconf-", dir="/dev/shm")
    procs = []
    try:
        tdir = os.path.join(root, "transport")
        os.makedirs(tdir)
        drivers = []
        for name in ("a", "b"):
            sdir = os.path.join(root, "shm-" + name)
            os.makedirs(sdir)
            cfg = os.path.join(root, name + ".toml")
            with open(cfg, "w") as f:
                f.write('[driver]\ninstance_id = "driver-%s"\ntransport_dir = "%s"\n[shm]\nbase_dir = "%s"\n'
                        '[policies]\nannounce_period_ms = 100\n'
                        '[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 1024 }]\n'
                        '[streams.s]\nstream_id = 10000\nprofile = "p"\n' % (name, tdir, sdir))
            drv = subprocess.Popen([tp, "driver", cfg], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(drv)
            drivers.append(drv)
            line = read_lines_until(drv, '"driver":"up"', 10)
            check(line is not None, "driver %s up" % name)
        prod = subprocess.Popen([producer, "--transport-dir", tdir, "--shm-dir", os.path.join(root, "shm-a"),
                                 "--driver", "--stream", "10000", "--duration", "30", "--rate", "10"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(prod)
        for name, drv in zip(("a", "b"), drivers):
            line = read_lines_until(drv, '"driver":"conflict"', 15)
            check(line is not None, "driver %s prints a conflict line" % name)
            if line:
                c = json.loads(line)
                check(c["foreign_driver_messages"] + c["foreign_announces"] > 0, "conflict counts (%r)" % line)
        for name, drv in zip(("a", "b"), drivers):
            drv.send_signal(signal.SIGTERM)
            line = read_lines_until(drv, '"driver":"stopped"', 15)
            check(line is not None and json.loads(line)["foreign_driver_messages"] > 0,
                  "driver %s exit counters (%r)" % (name, line))
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

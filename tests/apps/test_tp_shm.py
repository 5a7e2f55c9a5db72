#!/usr/bin/env python3
"""Tests of `tp demo` and `tp shm inspect` (text, JSON, garbage files).

usage: test_tp_shm.py TP_BINARY {demo|inspect}
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

MAGIC = 0x544F504C53484D31
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what)


def run(tp, *args, timeout=30):
    p = subprocess.run([tp] + list(args), capture_output=True, text=True, timeout=timeout)
    # A negative return code means a signal (crash): never acceptable.
    check(p.returncode >= 0, "tp %s crashed with signal %d" % (" ".join(args), -p.returncode))
    return p


def test_demo(tp, tmp):
    p = run(tp, "demo", "--frames", "2000", "--dir", tmp, timeout=60)
    print(p.stdout)
    check(p.returncode == 0, "tp demo exits 0 (got %d: %s)" % (p.returncode, p.stderr))
    check("OK: every frame read back intact" in p.stdout, "demo reports success")
    check("2000 frames" in p.stdout, "demo reports the frame count")
    check("TP_DROP_SEQ_AHEAD" in p.stdout and "TP_DROP_NOT_COMMITTED" in p.stdout, "demo shows drop rules")
    check("ns/frame" in p.stdout, "demo prints timings")
    check(os.listdir(tmp) == [], "demo removed its directory (left: %s)" % os.listdir(tmp))
    p = run(tp, "demo", "--bogus")
    check(p.returncode == 2, "demo usage error exits 2")


def superblock(region_type, pool_id, nslots, slot_bytes, stride, magic=MAGIC, pid=1234, epoch=7, stream=9,
               activity=6):
    return struct.pack("<QIQIhHIIIQQQ", magic, 1, epoch, stream, region_type, pool_id, nslots, slot_bytes, stride,
                       pid, 5, activity)


def test_inspect(tp, tmp):
    p = run(tp, "demo", "--frames", "40", "--dir", tmp, "--keep")
    check(p.returncode == 0, "demo --keep exits 0")
    kept = [l.split()[1] for l in p.stdout.splitlines() if l.strip().startswith("kept")]
    check(len(kept) == 1, "demo --keep prints the kept directory")
    ring = pool = None
    for root, _dirs, files in os.walk(kept[0]):
        for f in files:
            if f == "header.ring":
                ring = os.path.join(root, f)
            if f.endswith(".pool"):
                pool = os.path.join(root, f)
    check(ring is not None and pool is not None, "demo created header.ring and a pool")

    # Text output of a header ring.
    p = run(tp, "shm", "inspect", ring)
    check(p.returncode == 0, "inspect ring exits 0: %s" % p.stderr)
    for word in ("magic", "0x544f504c53484d31 (valid)", "layout_version", "epoch", "stream_id",
                 "HEADER_RING", "pool_id", "nslots", "slot_bytes", "stride_bytes", "pid",
                 "start_timestamp_ns", "activity_timestamp_ns", "slots (8 of 16)", "committed", "FLOAT32"):
        check(word in p.stdout, "text output contains %r" % word)
    p = run(tp, "shm", "inspect", ring, "--all")
    check("slots (16 of 16)" in p.stdout, "--all shows every slot")
    p = run(tp, "shm", "inspect", ring, "--slots", "2")
    check("slots (2 of 16)" in p.stdout, "--slots 2 shows two slots")

    # JSON output: one valid object with every field.
    p = run(tp, "shm", "inspect", ring, "--json", "--all")
    check(p.returncode == 0, "inspect --json exits 0")
    try:
        d = json.loads(p.stdout)
    except ValueError as e:
        d = {}
        check(False, "JSON output parses: %s" % e)
    sb = d.get("superblock", {})
    for key in ("magic", "magic_valid", "layout_version", "epoch", "stream_id", "region_type", "region_type_name",
                "pool_id", "nslots", "slot_bytes", "stride_bytes", "pid", "start_timestamp_ns",
                "activity_timestamp_ns"):
        check(key in sb, "JSON superblock has %s" % key)
    check(sb.get("magic_valid") is True and sb.get("region_type_name") == "HEADER_RING", "JSON ring identity")
    slots = d.get("slots", [])
    check(len(slots) == 16, "JSON has 16 slots")
    for s in slots:
        for key in ("seq", "committed", "values_len_bytes", "pool_id", "payload_slot", "timestamp_ns",
                    "meta_version", "dtype_name", "dims", "strides", "status"):
            check(key in s, "JSON slot has %s" % key)
    check(all(s.get("status") == "OK" and s.get("committed") for s in slots), "all demo slots are valid")
    check(all(s["payload_slot"] == s["index"] for s in slots), "payload_slot == index")

    p = run(tp, "shm", "inspect", pool, "--json")
    d = json.loads(p.stdout)
    check(d["superblock"]["region_type_name"] == "PAYLOAD_POOL" and "slots" not in d, "pool JSON")
    p = run(tp, "shm", "inspect", pool)
    check("PAYLOAD_POOL" in p.stdout and p.returncode == 0, "pool text")
    shutil.rmtree(kept[0])

    # Pool slot_bytes (DECISIONS SHM-1): the stride, 0 or 0xFFFFFFFF are accepted, anything else refused.
    pools = os.path.join(tmp, "pools")
    os.mkdir(pools)
    for name, slot_bytes, ok, note in (("stride", 128, True, None), ("zero", 0, True, "(0: unset"),
                                       ("ones", 0xFFFFFFFF, True, "(0xFFFFFFFF: unset"),
                                       ("bad", 64, False, None), ("bad_ones_minus_1", 0xFFFFFFFE, False, None)):
        path = os.path.join(pools, name + ".pool")
        with open(path, "wb") as f:
            f.write(superblock(2, 1, 4, slot_bytes, 128) + bytes(4 * 128))
        p = run(tp, "shm", "inspect", path)
        if ok:
            check(p.returncode == 0, "pool slot_bytes=%#x accepted: %s" % (slot_bytes, p.stderr.strip()))
            check(("slot_bytes             %d" % slot_bytes) in p.stdout, "pool slot_bytes=%#x printed" % slot_bytes)
            if note:
                check(note in p.stdout and "stride_bytes applies" in p.stdout, "pool slot_bytes=%#x explained" %
                      slot_bytes)
            d = json.loads(run(tp, "shm", "inspect", path, "--json").stdout)
            check(d.get("valid") is True and d["superblock"]["slot_bytes"] == slot_bytes and
                  d["superblock"]["slot_bytes_unset"] is (note is not None), "pool slot_bytes=%#x JSON" % slot_bytes)
        else:
            check(p.returncode == 1 and "slot_bytes" in p.stderr, "pool slot_bytes=%#x refused (got %d: %s)" %
                  (slot_bytes, p.returncode, p.stderr.strip()))
    # A pool with a bad stride (not a multiple of 64) is refused whatever its slot_bytes.
    path = os.path.join(pools, "bad_stride.pool")
    with open(path, "wb") as f:
        f.write(superblock(2, 1, 4, 0xFFFFFFFF, 100) + bytes(4 * 128))
    p = run(tp, "shm", "inspect", path)
    check(p.returncode == 1 and "stride_bytes" in p.stderr, "pool stride 100 refused (%s)" % p.stderr.strip())

    # Garbage files: clear error, exit 1, never a crash.
    g = os.path.join(tmp, "garbage")
    os.mkdir(g)
    cases = {}
    cases["empty"] = b""
    cases["short"] = b"x" * 30
    cases["random"] = os.urandom(4096)
    cases["wrong_magic"] = superblock(1, 0, 8, 256, 0, magic=0x1122334455667788) + bytes(8 * 256)
    cases["truncated"] = superblock(1, 0, 8, 256, 0) + bytes(100)
    cases["bad_type"] = superblock(9, 0, 8, 256, 0) + bytes(8 * 256)
    cases["bad_nslots"] = superblock(1, 0, 6, 256, 0) + bytes(8 * 256)
    cases["huge_nslots"] = superblock(2, 1, 1 << 31, 1 << 31, 1 << 31)
    for name, data in cases.items():
        with open(os.path.join(g, name), "wb") as f:
            f.write(data)
    os.mkfifo(os.path.join(g, "fifo"))
    os.mkdir(os.path.join(g, "dir"))
    expect = {"empty": "64-byte superblock", "short": "64-byte superblock", "random": "magic",
              "wrong_magic": "magic", "truncated": "truncated", "bad_type": "region_type",
              "bad_nslots": "nslots", "huge_nslots": "truncated", "fifo": "FIFO", "dir": "directory"}
    for name, needle in expect.items():
        path = os.path.join(g, name)
        for extra in ([], ["--json"]):
            p = run(tp, "shm", "inspect", path, *extra, timeout=10)
            check(p.returncode == 1, "%s %s exits 1 (got %d)" % (name, extra, p.returncode))
            check(needle in p.stderr, "%s: error mentions %r (got %r)" % (name, needle, p.stderr.strip()))
            if extra:
                try:
                    d = json.loads(p.stdout)
                    check(d.get("valid") is False and "error" in d, "%s: JSON error object" % name)
                except ValueError:
                    check(False, "%s: --json prints valid JSON on error (%r)" % (name, p.stdout))
    p = run(tp, "shm", "inspect", os.path.join(g, "missing"))
    check(p.returncode == 1, "missing file exits 1")
    # A ring whose slots are random bytes: inspected without crashing, slots flagged.
    with open(os.path.join(g, "garbage_slots"), "wb") as f:
        f.write(superblock(1, 0, 8, 256, 0) + os.urandom(8 * 256))
    p = run(tp, "shm", "inspect", os.path.join(g, "garbage_slots"), "--json", "--all")
    check(p.returncode == 0, "garbage slots: superblock valid, exit 0")
    d = json.loads(p.stdout)
    check(all(s["status"] != "OK" for s in d["slots"]), "garbage slots are flagged")
    # Usage errors.
    check(run(tp, "shm", "inspect").returncode == 2, "missing PATH exits 2")
    check(run(tp, "shm", "inspect", "x", "--slots").returncode == 2, "--slots without a number exits 2")
    check(run(tp, "shm", "bogus").returncode == 2, "unknown shm subcommand exits 2")


def test_gc(tp, tmp):
    """tp shm gc: dry run by default, --apply removes dead epochs, live ones are kept."""
    import pwd
    p = run(tp, "demo", "--frames", "40", "--dir", tmp, "--keep")
    check(p.returncode == 0, "demo --keep exits 0")
    kept = [l.split()[1] for l in p.stdout.splitlines() if l.strip().startswith("kept")]
    check(len(kept) == 1, "demo --keep prints the kept directory")
    base = kept[0]
    user = "".join(c if c.isalnum() or c in "._-" else "_" for c in pwd.getpwuid(os.geteuid()).pw_name)
    dead = os.path.join(base, "tensorpool-" + user, "demo", "1", "1")
    check(os.path.isdir(dead), "demo left its epoch directory %s" % dead)
    # A live epoch: its superblock names this (running) test process.
    live = os.path.join(base, "tensorpool-" + user, "ns", "9", "7")
    os.makedirs(live)
    with open(os.path.join(live, "header.ring"), "wb") as f:
        f.write(superblock(1, 0, 8, 256, 0, pid=os.getpid()) + bytes(8 * 256))

    # The demo's activity timestamp is fresh: with the default staleness (10 s) nothing is dead yet.
    p = run(tp, "shm", "gc", "--base-dir", base)
    check(p.returncode == 0, "gc dry run exits 0: %s" % p.stderr)
    check("0 dead epoch(s)" in p.stdout and "only" in p.stdout, "fresh timestamp keeps the epoch: %s" % p.stdout)
    # Dry run with staleness off: listed as dead, nothing removed.
    p = run(tp, "shm", "gc", "--base-dir", base, "--min-stale", "0")
    check(p.returncode == 0 and ("dead    " + dead) in p.stdout and "not running" in p.stdout,
          "dry run lists the dead epoch: %s" % p.stdout)
    check("1 dead epoch(s)" in p.stdout and "dry run, nothing removed" in p.stdout, "dry run summary")
    check(("keep    " + live) in p.stdout and "is running" in p.stdout, "the live epoch is kept: %s" % p.stdout)
    check(os.path.isdir(dead), "dry run removed nothing")
    # JSON lines.
    p = run(tp, "shm", "gc", "--base-dir", base, "--min-stale", "0", "--json")
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    by_path = {l.get("path"): l for l in lines if "path" in l}
    check(by_path.get(dead, {}).get("verdict") == "dead" and by_path[dead]["removed"] is False, "JSON dead entry")
    check(by_path.get(live, {}).get("verdict") == "live" and by_path[live]["pid"] == os.getpid(), "JSON live entry")
    check(lines and lines[-1].get("summary") is True and lines[-1]["dead"] == 1 and lines[-1]["apply"] is False,
          "JSON summary")
    # --stream filters (the dead demo epoch is stream 1).
    p = run(tp, "shm", "gc", "--base-dir", base, "--min-stale", "0", "--stream", "2", "--apply")
    check(p.returncode == 0 and "0 dead" in p.stdout and os.path.isdir(dead), "--stream 2 leaves stream 1 alone")
    # Apply.
    p = run(tp, "shm", "gc", "--base-dir", base, "--min-stale", "0", "--stream", "1", "--apply")
    check(p.returncode == 0 and ("removed " + dead) in p.stdout and "removed 1 of 1" in p.stdout,
          "--apply removes the dead epoch: %s %s" % (p.stdout, p.stderr))
    check(not os.path.exists(dead), "dead epoch directory is gone")
    check(os.path.exists(os.path.join(live, "header.ring")), "live epoch intact")
    # Namespace filter and errors.
    p = run(tp, "shm", "gc", "--base-dir", base, "--namespace", "other", "--min-stale", "0")
    check(p.returncode == 0 and "0 dead" in p.stdout and live not in p.stdout, "--namespace filters")
    check(run(tp, "shm", "gc", "--base-dir", os.path.join(tmp, "missing")).returncode == 1, "missing base dir exits 1")
    for bad in (["--base-dir", ""], ["--base-dir", "relative"], ["--min-stale", "abc"], ["--min-stale", "-1"],
                ["--min-stale", "nan"], ["--namespace", "../x"], ["--bogus"], ["--min-stale"], ["--stream", "-1"],
                ["--stream", "x"]):
        p = run(tp, "shm", "gc", *bad)
        check(p.returncode == 2 and p.stderr.strip() != "", "gc %s is a usage error with a message (%d: %r)" %
              (bad, p.returncode, p.stderr.strip()))
    shutil.rmtree(base)


def main():
    tp, mode = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="tp-test-apps-")
    try:
        {"demo": test_demo, "inspect": test_inspect, "gc": test_gc}[mode](tp, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s: %d failure(s)" % (mode, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

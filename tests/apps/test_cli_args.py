#!/usr/bin/env python3
"""Every numeric (and path) argument of `tp` and of the example programs is range-checked:
a bad value is a usage error (exit 2) with a message naming the option, never a hang, a crash
or a silent default (`--size -1` used to loop forever, `--duration abc` to run forever,
`--dir ""` to write at /).

usage: test_cli_args.py TP PRODUCER CONSUMER MINIMAL
"""
import os
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what)


def expect_usage_error(argv, needle):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        check(False, "%s hangs instead of refusing the argument" % argv[1:])
        return
    name = " ".join(argv[1:])
    check(p.returncode == 2, "%s exits 2 (got %d)" % (name, p.returncode))
    err = p.stderr.strip()
    check(needle in err, "%s: message mentions %r (got %r)" % (name, needle, err))


def main():
    tp, producer, consumer, minimal = sys.argv[1:5]
    bad_numbers = ["-1", "abc", "", "1x", " 5", "99999999999999999999999", "nan", "inf", "0x10"]
    for value in bad_numbers:
        expect_usage_error([producer, "--size", value], "--size")
        expect_usage_error([producer, "--duration", value], "--duration")
        expect_usage_error([producer, "--frames", value], "--frames")
        expect_usage_error([producer, "--rate", value], "--rate")
        expect_usage_error([producer, "--nslots", value], "--nslots")
        expect_usage_error([producer, "--stream", value], "--stream")
        expect_usage_error([consumer, "--duration", value], "--duration")
        expect_usage_error([consumer, "--max-gap", value], "--max-gap")
        expect_usage_error([consumer, "--until-seq", value], "--until-seq")
        expect_usage_error([tp, "listen", "descriptors", "--duration", value], "--duration")
        expect_usage_error([tp, "listen", "descriptors", "--count", value], "--count")
        expect_usage_error([tp, "demo", "--frames", value], "--frames")
        expect_usage_error([tp, "shm", "inspect", "x", "--slots", value], "--slots")
        expect_usage_error([tp, "shm", "gc", "--min-stale", value], "--min-stale")
        expect_usage_error([minimal, value], "FRAMES")
    for opt in ("--announce-ms", "--linger-ms", "--wait-consumers", "--change-layout-at"):
        expect_usage_error([producer, opt, "-5"], opt)
    for opt in ("--min-remaps", "--min-epochs", "--slow-us"):
        expect_usage_error([consumer, opt, "x"], opt)
    # Out of range.
    expect_usage_error([producer, "--size", str(2 ** 30 + 1)], "--size")
    expect_usage_error([producer, "--nslots", "0"], "--nslots")
    expect_usage_error([producer, "--stream", str(2 ** 31)], "--stream")
    expect_usage_error([producer, "--announce-ms", "0"], "--announce-ms")
    expect_usage_error([tp, "listen", "descriptors", "--stream", str(2 ** 31)], "--stream")
    expect_usage_error([tp, "demo", "--frames", "0"], "--frames")
    expect_usage_error([minimal, "0"], "FRAMES")
    # Empty paths.
    for argv, opt in (([producer, "--transport-dir", ""], "--transport-dir"), ([producer, "--shm-dir", ""], "--shm-dir"),
                      ([consumer, "--transport-dir", ""], "--transport-dir"), ([consumer, "--shm-dir", ""], "--shm-dir"),
                      ([tp, "demo", "--dir", ""], "--dir"), ([tp, "listen", "qos", "--transport-dir", ""],
                                                             "--transport-dir"),
                      ([tp, "listen", "qos", "--channel", ""], "--channel"),
                      ([tp, "media-driver", "--dir", ""], "--dir"), ([tp, "shm", "gc", "--base-dir", ""], "--base-dir")):
        expect_usage_error(argv, opt)
    # Missing values, unknown words and enumerations.
    expect_usage_error([tp, "demo", "--frames"], "--frames")
    expect_usage_error([tp, "listen", "descriptors", "--count"], "--count")
    expect_usage_error([tp, "media-driver", "--duration", "abc", "--dir", "/tmp/x"], "--duration")
    expect_usage_error([consumer, "--check", "most"], "--check")
    expect_usage_error([consumer, "--idle", "sleep"], "--idle")
    expect_usage_error([producer, "stray"], "stray")
    expect_usage_error([consumer, "stray"], "stray")
    expect_usage_error([minimal, "1", "2"], "usage")
    expect_usage_error([tp, "nosuchcommand"], "nosuchcommand")
    # Valid values are still accepted (a short, bounded run).
    p = subprocess.run([minimal, "20"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "tp_example_minimal 20 runs (%d: %s)" % (p.returncode, p.stderr.strip()))
    p = subprocess.run([tp, "demo", "--frames", "10"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "tp demo --frames 10 runs (%d: %s)" % (p.returncode, p.stderr.strip()))
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""tp listen tracelink / tp listen merge / tp trace against the pipeline example.

Starts the listeners on a private transport directory, runs
tp_example_pipeline --json there, and checks:
  - tp listen tracelink --json prints exactly --count TraceLinkSets (schema 904 only, other
    control traffic gated out), each equal to a TraceLinkSet the pipeline reports;
  - tp listen merge --json shows the late-join SequenceMergeMapRequest and the announce of the
    join's map (inputs 10001, 10002, OFFSET 0);
  - tp trace SEQ --stream-id 10004 (text and --json) reports the output frame, the join frame
    sharing its trace id, the TraceLinkSet and, for each parent, the source frame that carried it.
usage: test_tp_trace_cli.py TP_BINARY PIPELINE_BINARY
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    tp, pipeline = sys.argv[1], sys.argv[2]
    d = tempfile.mkdtemp(prefix="tp-test-tracecli-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    procs = []
    try:
        def start(args):
            p = subprocess.Popen([tp] + args + ["--transport-dir", d], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            procs.append(p)
            return p
        listen = start(["listen", "tracelink", "--json", "--count", "5", "--duration", "30"])
        merge = start(["listen", "merge", "--json", "--count", "2", "--duration", "4"])
        trace_json = start(["trace", "120", "--stream-id", "10004", "--json", "--duration", "30"])
        trace_text = start(["trace", "7", "--stream-id", "10004", "--duration", "30"])
        time.sleep(1.0)  # the listeners subscribe before the pipeline publishes
        run = subprocess.run([pipeline, "--frames", "300", "--json", "--dir", d], capture_output=True, text=True,
                             timeout=120)
        if run.returncode != 0:
            print("pipeline failed: " + run.stderr)
            return 1
        outs = {}
        for name, p in (("listen", listen), ("merge", merge), ("trace_json", trace_json), ("trace_text", trace_text)):
            out, err = p.communicate(timeout=60)
            if p.returncode != 0:
                print("%s exited %d: %s" % (name, p.returncode, err))
                return 1
            outs[name] = out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)

    records = [json.loads(x) for x in run.stdout.splitlines() if x.strip()]
    links = {(r["seq"]): r for r in records if r["type"] == "tracelink"}
    by = {}
    for r in records:
        if r["type"] in ("source", "join", "output"):
            by[(r["stream_id"], r["seq"])] = r
    problems = []

    heard = [json.loads(x) for x in outs["listen"].splitlines() if x.strip()]
    if len(heard) != 5:
        problems.append("tp listen tracelink printed %d lines, expected 5" % len(heard))
    for h in heard:
        ref = links.get(h.get("seq"))
        if h.get("type") != "TraceLinkSet" or ref is None or \
                (h["stream_id"], h["epoch"], h["trace_id"], h["parents"]) != \
                (ref["stream_id"], ref["epoch"], ref["trace_id"], ref["parents"]):
            problems.append("tp listen tracelink: unexpected %s" % h)

    merges = [json.loads(x) for x in outs["merge"].splitlines() if x.strip()]
    types = [m.get("type") for m in merges]
    if "SequenceMergeMapAnnounce" not in types and "SequenceMergeMapRequest" not in types:
        problems.append("tp listen merge: no MergeMap traffic: %s" % merges)
    for m in merges:
        if m.get("type") == "SequenceMergeMapAnnounce":
            if m["out_stream_id"] != 10003 or [r["input_stream_id"] for r in m["rules"]] != [10001, 10002] or \
                    any(r["rule_type"] != "OFFSET" or r["offset"] != 0 or r["window_size"] is not None
                        for r in m["rules"]):
                problems.append("tp listen merge: unexpected announce %s" % m)
        elif m.get("type") == "SequenceMergeMapRequest":
            if m["out_stream_id"] != 10003:
                problems.append("tp listen merge: unexpected request %s" % m)
        else:
            problems.append("tp listen merge: unexpected %s" % m)

    t = json.loads(outs["trace_json"].strip().splitlines()[-1])
    out = by[(10004, 120)]
    a, b, j = by[(10001, 120)], by[(10002, 120)], by[(10003, 120)]
    lin = t["lineage"]
    if t["frame"]["trace_id"] != out["trace_id"] or lin["trace_id"] != out["trace_id"]:
        problems.append("tp trace: wrong trace id %s" % t)
    if {(f["stream_id"], f["seq"]) for f in lin["frames"]} != {(10003, 120), (10004, 120)}:
        problems.append("tp trace: frames sharing the trace: %s" % lin["frames"])
    if lin.get("link") != {"stream_id": 10003, "epoch": j["epoch"], "seq": 120}:
        problems.append("tp trace: link %s" % lin.get("link"))
    parents = lin.get("parents", [])
    if [p["trace_id"] for p in parents] != [a["trace_id"], b["trace_id"]] or \
            [[(f["stream_id"], f["seq"]) for f in p["frames"]] for p in parents] != [[(10001, 120)], [(10002, 120)]] or \
            any("parents" in p for p in parents):
        problems.append("tp trace: parents %s" % parents)

    text = outs["trace_text"]
    o7, a7, b7 = by[(10004, 7)], by[(10001, 7)], by[(10002, 7)]
    for needle in ("frame stream=10004 epoch=1 seq=7 trace_id=%d" % o7["trace_id"],
                   "frame stream=10003 epoch=1 seq=7", "derived: TraceLinkSet stream=10003",
                   "trace %d" % a7["trace_id"], "frame stream=10001 epoch=1 seq=7",
                   "trace %d" % b7["trace_id"], "frame stream=10002 epoch=1 seq=7"):
        if needle not in text:
            problems.append("tp trace (text): missing %r in:\n%s" % (needle, text))
    if problems:
        print("\n".join(problems))
        return 1
    print("tp listen tracelink, tp listen merge and tp trace agree with the pipeline")
    return 0


if __name__ == "__main__":
    sys.exit(main())

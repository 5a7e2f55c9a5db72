#!/usr/bin/env python3
"""Lineage test of examples/tp_example_pipeline (TraceLink spec 6.3, 8.1, 9.2).

Runs the pipeline (two traced sources -> sequence join -> 1->1 processing
stage) with --json and checks, independently of the example's own check,
that every output frame's lineage is exact:
  - every source frame has a non-zero trace id, distinct across all sources (root frames mint);
  - the join frame of seq s has a fresh trace id (not one of its parents') (N->1 mints);
  - the output frame of seq s carries the join frame's trace id (1->1 propagates);
  - exactly one TraceLinkSet exists for that trace id, its (stream_id, epoch, seq)
    match the join frame's FrameDescriptor, and its parents are exactly
    [trace(A, s), trace(B, s)], in the join's order.
The checker is also run on deliberately corrupted records to prove it can fail.
usage: test_pipeline_lineage.py PIPELINE_BINARY
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

A, B, J, P = 10001, 10002, 10003, 10004


def check(records, frames):
    """Return a list of problems (empty: every output's lineage verified)."""
    problems = []
    src = {A: {}, B: {}}
    join, out, links = {}, {}, {}
    for r in records:
        t = r["type"]
        if t == "source":
            src[r["stream_id"]][r["seq"]] = r
        elif t == "join":
            join[r["seq"]] = r
        elif t == "output":
            out[r["seq"]] = r
        elif t == "tracelink":
            if r["trace_id"] in links:
                problems.append("two TraceLinkSets for trace %d" % r["trace_id"])
            links[r["trace_id"]] = r
    roots = [r["trace_id"] for s in src.values() for r in s.values()]
    if any(x == 0 for x in roots) or len(set(roots)) != len(roots):
        problems.append("source trace ids must be non-zero and unique")
    if len(out) != frames:
        problems.append("%d output frames, expected %d" % (len(out), frames))
    for seq, o in sorted(out.items()):
        j = join.get(seq)
        a, b = src[A].get(seq), src[B].get(seq)
        if j is None or a is None or b is None:
            problems.append("seq %d: upstream frame missing" % seq)
            continue
        if o["trace_id"] != j["trace_id"]:
            problems.append("seq %d: output trace %d != join trace %d" % (seq, o["trace_id"], j["trace_id"]))
        if j["trace_id"] in (0, a["trace_id"], b["trace_id"]):
            problems.append("seq %d: join did not mint a new trace id" % seq)
        link = links.get(o["trace_id"])
        if link is None:
            problems.append("seq %d: no TraceLinkSet for trace %d" % (seq, o["trace_id"]))
            continue
        if (link["stream_id"], link["epoch"], link["seq"]) != (j["stream_id"], j["epoch"], j["seq"]):
            problems.append("seq %d: TraceLinkSet (stream, epoch, seq) differ from the join frame's" % seq)
        if link["parents"] != [a["trace_id"], b["trace_id"]]:
            problems.append("seq %d: parents %s != [%d, %d]" % (seq, link["parents"], a["trace_id"], b["trace_id"]))
    return problems


def main():
    binary = sys.argv[1]
    frames = 300
    d = tempfile.mkdtemp(prefix="tp-test-pipeline-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        p = subprocess.run([binary, "--frames", str(frames), "--json", "--dir", d], capture_output=True, text=True,
                           timeout=120)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if p.returncode != 0:
        print("pipeline failed (%d): %s" % (p.returncode, p.stderr))
        return 1
    records = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    summary = [r for r in records if r["type"] == "summary"]
    problems = check(records, frames)
    if not summary or not summary[0]["ok"]:
        problems.append("the example's own verification failed")
    if problems:
        print("\n".join(problems[:20]))
        return 1
    # The checker must be able to fail: corrupt one record of each kind and expect a problem.
    def corrupted(kind, mutate):
        recs = json.loads(json.dumps(records))
        target = next(r for r in recs if r["type"] == kind and r.get("seq") == 7)
        mutate(target)
        return check(recs, frames)
    mutations = {
        "tracelink": lambda r: r.__setitem__("parents", list(reversed(r["parents"]))),
        "output": lambda r: r.__setitem__("trace_id", r["trace_id"] + 1),
        "join": lambda r: r.__setitem__("trace_id", 0),
        "source": lambda r: r.__setitem__("trace_id", 12345),
    }
    for kind, mutate in mutations.items():
        if not corrupted(kind, mutate):
            print("checker missed a corrupted %s record" % kind)
            return 1
    print("lineage verified for %d output frames" % frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())

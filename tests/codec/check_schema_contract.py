#!/usr/bin/env python3
"""The project's schemas/ must carry exactly the wire contract of the shared spec schemas:
same messages, template ids, field names, ids, types, offsets and presence, same enum
values, same block lengths. The only allowed difference is ERRATA 2 (discovery tags as
var-data). Usage: check_schema_contract.py OUR_SCHEMAS_DIR SPEC_SCHEMAS_DIR"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "sbe"))
import sbe_schema  # noqa: E402

FILES = ["wire-schema.xml", "driver-schema.xml", "discovery-schema.xml", "bridge-schema.xml",
         "join-barrier-schema.xml", "trace-link-schema.xml"]
ERRATA_TAGS = {("discovery-schema.xml", "DiscoveryRequest", "tags"),
               ("discovery-schema.xml", "DiscoveryResponse.results", "tags")}


def type_sig(t):
    if t.kind == "enum":
        return ("enum", t.name, t.prim.name, tuple(t.values))
    if t.kind == "set":
        return ("set", t.name, t.prim.name, tuple(t.choices))
    if t.kind == "composite":
        return ("composite", t.name, tuple((n, type_sig(mt), o) for (n, mt, o) in t.members))
    return ("type", t.prim.name, t.length, t.presence, t.null, t.const_value)


def node_sig(fname, path, node, errors_allowed):
    fields = tuple((f.name, f.id, type_sig(f.type), f.offset, f.presence) for f in node.fields)
    groups = []
    for g in node.groups:
        key = (fname, path, g.name)
        if key in errors_allowed:
            groups.append((g.name, g.id, "ERRATA-2"))
            continue
        groups.append((g.name, g.id, g.block_length, node_sig(fname, path + "." + g.name, g, errors_allowed)))
    datas = tuple((d.name, d.id, d.length_size, d.max_length) for d in node.datas)
    return (fields, tuple(groups), datas)


def main():
    ours_dir, spec_dir = sys.argv[1], sys.argv[2]
    failures = 0
    for fname in FILES:
        ours = sbe_schema.load(os.path.join(ours_dir, fname))
        spec = sbe_schema.load(os.path.join(spec_dir, fname))
        if (ours.id, ours.version, ours.package) != (spec.id, spec.version, spec.package):
            print("FAIL %s: schema identity differs" % fname)
            failures += 1
        if [m.name for m in ours.messages] != [m.name for m in spec.messages]:
            print("FAIL %s: message list differs" % fname)
            failures += 1
            continue
        for mo, ms in zip(ours.messages, spec.messages):
            so = (mo.id, mo.block_length, node_sig(fname, mo.name, mo, ERRATA_TAGS))
            ss = (ms.id, ms.block_length, node_sig(fname, ms.name, ms, ERRATA_TAGS))
            if so != ss:
                print("FAIL %s: message %s differs from the spec schema" % (fname, mo.name))
                failures += 1
        # ERRATA 2 must actually be applied in our discovery schema: tags carry var-data.
        if fname == "discovery-schema.xml":
            req = next(m for m in ours.messages if m.name == "DiscoveryRequest")
            tags = next(g for g in req.groups if g.name == "tags")
            if not tags.datas or tags.fields:
                print("FAIL discovery: ERRATA 2 (tag as <data>) is not applied")
                failures += 1
    print("%d passed, %d failed" % (len(FILES) - min(failures, len(FILES)), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

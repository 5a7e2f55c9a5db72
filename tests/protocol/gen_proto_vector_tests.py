#!/usr/bin/env python3
"""Generate the golden-vector test of the decode layer (src/protocol).

For every vector of the wire and driver schemas whose message has a
tp_proto_decode_* function, emit a C check that decodes the .bin and compares
every view field with vectors.json, plus a table used by the generic tests in
the generated main(): every strict prefix rejected as TOO_SHORT, header
mutations rejected with their reason.

View naming rules (docs/PROTOCOL.md): camelCase field -> snake_case member;
optional fields -> has_<f> + <f>; wire Bool -> bool; enums -> their value;
var-data -> {data, length}; payloadPools -> pool_count + pools[]; DataSourceMeta
attributes -> iterator.
"""
import argparse
import json
import os
import re
import xml.etree.ElementTree as ET

MESSAGES = {
    "wire": ["ShmPoolAnnounce", "ConsumerHello", "ConsumerConfig", "FrameDescriptor", "FrameProgress", "QosConsumer",
             "QosProducer", "DataSourceAnnounce", "DataSourceMeta", "MetaBlobAnnounce", "MetaBlobChunk",
             "MetaBlobComplete", "ControlResponse"],
    "driver": ["ShmAttachRequest", "ShmAttachResponse", "ShmDetachRequest", "ShmDetachResponse", "ShmLeaseKeepalive",
               "ShmDriverShutdown", "ShmLeaseRevoked", "ShmDriverShutdownRequest"],
}


def snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def c_string(data):
    out = []
    for b in data:
        if 32 <= b < 127 and chr(b) not in '"\\?':
            out.append(chr(b))
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def schema_info(path):
    """Per message: {field: (type, optional)} for fixed fields (including group fields)."""
    root = ET.parse(path).getroot()
    info = {}
    for msg in root.iter():
        if not msg.tag.endswith("message"):
            continue
        fields = {}
        for f in msg.iter("field"):
            fields[f.get("name")] = (f.get("type"), f.get("presence") == "optional")
        info[msg.get("name")] = fields
    return info


class Emitter:
    def __init__(self):
        self.lines = []

    def __call__(self, s):
        self.lines.append("    " + s)

    def value(self, expr, name, val, fields):
        ftype, optional = fields.get(name, (None, False))
        if isinstance(val, list):
            raise ValueError("group %s handled by caller" % name)
        member = snake(name)
        if val is None:
            self("TP_ASSERT(!%s.has_%s);" % (expr, member))
            return
        if optional:
            self("TP_ASSERT(%s.has_%s);" % (expr, member))
        ref = "%s.%s" % (expr, member)
        if isinstance(val, dict) and "value" in val:
            if ftype == "Bool":
                self("TP_ASSERT(%s == %s);" % (ref, "true" if val["value"] == 1 else "false"))
            else:
                self("TP_ASSERT_EQ_I64(INT64_C(%d), (int64_t)%s);" % (val["value"], ref))
        elif isinstance(val, dict) and "hex" in val:
            data = bytes.fromhex(val["hex"])
            self("TP_ASSERT_EQ_U64(%du, %s.length);" % (len(data), ref))
            self("TP_ASSERT(0 == memcmp(%s.data, %s, %d));" % (ref, c_string(data), len(data)))
        elif isinstance(val, str):
            data = val.encode()
            self("TP_ASSERT_EQ_U64(%du, %s.length);" % (len(data), ref))
            if data:
                self("TP_ASSERT(0 == memcmp(%s.data, %s, %d));" % (ref, c_string(data), len(data)))
        elif isinstance(val, int):
            if val < 0:
                self("TP_ASSERT_EQ_I64(INT64_C(%d), (int64_t)%s);" % (val, ref))
            else:
                self("TP_ASSERT_EQ_U64(UINT64_C(%d), (uint64_t)%s);" % (val, ref))
        else:
            raise ValueError("unsupported value for %s: %r" % (name, val))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--schema", action="append", required=True, help="short=path/to/schema.xml")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    schemas = dict(s.split("=", 1) for s in args.schema)

    body = []
    table = []
    for short, messages in MESSAGES.items():
        info = schema_info(schemas[short])
        doc = json.load(open(os.path.join(args.vectors, short, "vectors.json")))
        for v in doc["vectors"]:
            if v["message"] not in messages or not v["messageHeader"]:
                continue
            msg = snake(v["message"])
            fields = info[v["message"]]
            ident = "%s_%s" % (short, re.sub(r"[^A-Za-z0-9]", "_", v["file"][:-4]))
            e = Emitter()
            e("tp_proto_%s_view_t v;" % msg)
            e("TP_ASSERT_MSG(0 == tp_proto_decode_%s(buf, len, &v), \"%s: %%s\", tp_errmsg());" % (msg, v["file"]))
            e("TP_ASSERT_EQ_I64(TP_PROTO_OK, tp_proto_last_error());")
            for name, val in v["fields"].items():
                if name == "payloadPools":
                    e("TP_ASSERT_EQ_U64(%du, v.pool_count);" % len(val))
                    for i, el in enumerate(val):
                        for k, x in el.items():
                            e.value("v.pools[%d]" % i, k, x, fields)
                elif name == "attributes":
                    e("TP_ASSERT_EQ_U64(%du, v.attribute_count);" % len(val))
                    e("tp_proto_attribute_iter_t it = v.attributes;")
                    e("tp_proto_attribute_view_t a;")
                    for el in val:
                        e("TP_ASSERT_EQ_I64(1, tp_proto_attribute_next(&it, &a));")
                        for k, x in el.items():
                            e.value("a", k, x, fields)
                    e("TP_ASSERT_EQ_I64(0, tp_proto_attribute_next(&it, &a));")
                else:
                    e.value("v", name, val, fields)
            body.append("static void check_%s(const uint8_t *buf, size_t len)\n{\n%s\n}\n" % (ident, "\n".join(e.lines)))
            body.append("static int decode_%s(const uint8_t *buf, size_t len)\n{\n"
                        "    tp_proto_%s_view_t v;\n    return tp_proto_decode_%s(buf, len, &v);\n}\n" % (ident, msg, msg))
            table.append('    { "%s/%s", check_%s, decode_%s },' % (short, v["file"], ident, ident))

    with open(args.out, "w") as f:
        f.write("/* Generated by tests/protocol/gen_proto_vector_tests.py: do not edit. */\n")
        f.write('#include "protocol/tp_proto.h"\n#include "tp_test.h"\n#include "common/tp_error.h"\n\n')
        f.write("\n".join(body))
        f.write("\ntypedef struct { const char *file; void (*check)(const uint8_t *, size_t); "
                "int (*decode)(const uint8_t *, size_t); } proto_vector_t;\n")
        f.write("static const proto_vector_t proto_vectors[] = {\n%s\n};\n" % "\n".join(table))
        f.write("#define PROTO_VECTOR_COUNT (sizeof(proto_vectors) / sizeof(proto_vectors[0]))\n")


if __name__ == "__main__":
    main()

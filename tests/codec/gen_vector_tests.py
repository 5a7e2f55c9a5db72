#!/usr/bin/env python3
"""Generate a C test from the golden SBE vectors (SCHEMA/vectors.json + .bin files).

For every vector the generated test:
  1. decodes the .bin with our codec and compares every field with the JSON;
  2. encodes the JSON values with our codec into a zeroed buffer of the same
     size and compares the bytes with the .bin;
  3. decodes every strict prefix of the .bin (copied into an exactly sized heap
     buffer, so ASan sees any overread) and requires a clean rejection.

Usage: gen_vector_tests.py --vectors DIR --out FILE --map DIR=SHORT=SCHEMA.xml ...
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "sbe"))

import sbe_schema  # noqa: E402
from sbe_schema import snake  # noqa: E402
from sbe_gen import c_literal  # noqa: E402


def cstr(b):
    """C string literal for bytes (octal escapes, safe for any content)."""
    out = []
    for ch in b:
        if 32 <= ch < 127 and ch not in (ord('"'), ord("\\"), ord("?")):
            out.append(chr(ch))
        else:
            out.append("\\%03o" % ch)
    return '"' + "".join(out) + '"'


def data_bytes(v):
    if isinstance(v, dict):
        return bytes.fromhex(v["hex"])
    return v.encode("ascii")


class Gen:
    def __init__(self):
        self.lines = []
        self.tests = []
        self.tmp = 0

    def w(self, s=""):
        self.lines.append(s)

    def var(self, base):
        self.tmp += 1
        return "%s%d" % (base, self.tmp)

    def check_fields(self, prefix, node, values, obj, ind):
        """Emit decode checks for the fields/groups/data of `node` (message or group) on object `obj`."""
        for f in node.fields:
            if not f.has_accessor:
                continue
            fname = snake(f.name)
            acc = "%s_%s" % (prefix, fname)
            if f.name not in values:
                raise SystemExit("vector lacks field %s" % f.name)
            v = values[f.name]
            t = f.type
            if f.is_constant:
                self.w(ind + "TP_ASSERT_EQ_I64(%d, (int64_t)%s());" % (v, acc))
                continue
            if t.kind == "type" and t.length > 1:
                for i, ev in enumerate(v):
                    macro = "TP_ASSERT_EQ_I64" if t.prim.signed else "TP_ASSERT_EQ_U64"
                    self.w(ind + "%s(%s, %s(%s, %d));" % (macro, c_literal(ev, t.prim), acc, obj, i))
                continue
            if v is None:
                self.w(ind + "TP_ASSERT(%s_is_null(%s));" % (acc, obj))
                self.w(ind + "TP_ASSERT_EQ_U64(%s_NULL_VALUE, %s(%s));" % (acc.upper(), acc, obj))
                continue
            if t.kind == "enum":
                self.w(ind + "TP_ASSERT_EQ_I64(%d, (int64_t)%s(%s));" % (v["value"], acc, obj))
                enum_fn = "%s_%s_name" % (self.schema_prefix, snake(t.name))
                self.w(ind + 'TP_ASSERT_STREQ("%s", %s((int64_t)%s(%s)));' % (v["name"], enum_fn, acc, obj))
                continue
            macro = "TP_ASSERT_EQ_I64" if t.prim.signed else "TP_ASSERT_EQ_U64"
            self.w(ind + "%s(%s, %s(%s));" % (macro, c_literal(v, t.prim), acc, obj))
            if f.presence == "optional":
                self.w(ind + "TP_ASSERT(!%s_is_null(%s));" % (acc, obj))
        for g in node.groups:
            gp = "%s_%s" % (prefix, snake(g.name))
            gv = self.var("g")
            elems = values.get(g.name) or []
            self.w(ind + "{")
            self.w(ind + "    %s_t %s;" % (gp, gv))
            self.w(ind + "    TP_ASSERT_EQ_I64(0, %s_get_%s(%s, &%s));" % (prefix, snake(g.name), obj, gv))
            self.w(ind + "    TP_ASSERT_EQ_U64(%d, %s_count(&%s));" % (len(elems), gp, gv))
            for e in elems:
                self.w(ind + "    TP_ASSERT_EQ_I64(0, %s_next(&%s));" % (gp, gv))
                self.check_fields(gp, g, e, "&" + gv, ind + "    ")
            self.w(ind + "    TP_ASSERT(!%s_has_next(&%s));" % (gp, gv))
            self.w(ind + "    TP_ASSERT(0 != %s_next(&%s));" % (gp, gv))
            self.w(ind + "}")
        for d in node.datas:
            b = data_bytes(values[d.name])
            dv = self.var("d")
            lv = self.var("l")
            ptr_t = "char" if d.is_ascii else "uint8_t"
            self.w(ind + "{")
            self.w(ind + "    const %s *%s = NULL;" % (ptr_t, dv))
            self.w(ind + "    uint32_t %s = 0;" % lv)
            self.w(ind + "    TP_ASSERT_EQ_I64(0, %s_get_%s(%s, &%s, &%s));" % (prefix, snake(d.name), obj, dv, lv))
            self.w(ind + "    TP_ASSERT_EQ_U64(%d, %s);" % (len(b), lv))
            if b:
                self.w(ind + "    TP_ASSERT(NULL != %s && 0 == memcmp(%s, %s, %d));" % (dv, dv, cstr(b), len(b)))
            self.w(ind + "}")

    def encode_fields(self, prefix, node, values, obj, ind):
        for f in node.fields:
            if not f.has_accessor or f.is_constant:
                continue
            fname = snake(f.name)
            v = values[f.name]
            t = f.type
            setter = "%s_set_%s" % (prefix, fname)
            if t.kind == "type" and t.length > 1:
                for i, ev in enumerate(v):
                    self.w(ind + "%s(%s, %d, %s);" % (setter, obj, i, c_literal(ev, t.prim)))
                continue
            if v is None:
                self.w(ind + "%s(%s, %s_NULL_VALUE);" % (setter, obj, ("%s_%s" % (prefix, fname)).upper()))
                continue
            if t.kind == "enum":
                self.w(ind + "%s(%s, (%s_%s_t)%d);" % (setter, obj, self.schema_prefix, snake(t.name), v["value"]))
                continue
            self.w(ind + "%s(%s, %s);" % (setter, obj, c_literal(v, t.prim)))
        for g in node.groups:
            gp = "%s_%s" % (prefix, snake(g.name))
            gv = self.var("g")
            elems = values.get(g.name) or []
            self.w(ind + "{")
            self.w(ind + "    %s_t %s;" % (gp, gv))
            self.w(ind + "    TP_ASSERT_EQ_I64(0, %s_set_%s_count(%s, &%s, %d));" %
                   (prefix, snake(g.name), obj, gv, len(elems)))
            for e in elems:
                self.w(ind + "    TP_ASSERT_EQ_I64(0, %s_next(&%s));" % (gp, gv))
                self.encode_fields(gp, g, e, "&" + gv, ind + "    ")
            self.w(ind + "}")
        for d in node.datas:
            b = data_bytes(values[d.name])
            ptr_t = "char" if d.is_ascii else "uint8_t"
            self.w(ind + "TP_ASSERT_EQ_I64(0, %s_put_%s(%s, (const %s *)%s, %d));" %
                   (prefix, snake(d.name), obj, ptr_t, cstr(b), len(b)))

    def vector(self, vdir, short, schema, v):
        msg = next((m for m in schema.messages if m.name == v["message"]), None)
        if msg is None:
            raise SystemExit("%s: unknown message %s" % (vdir, v["message"]))
        if msg.id != v["templateId"] or schema.id != v["schemaId"] or msg.block_length != v["blockLength"]:
            raise SystemExit("%s: %s identity/blockLength mismatch with schema" % (vdir, v["file"]))
        self.schema_prefix = "tp_sbe_%s" % short
        mp = "tp_sbe_%s_%s" % (short, snake(msg.name))
        tname = "test_vector_%s_%s" % (snake(vdir), snake(v["file"].replace(".bin", "").replace(".", "_")))
        self.tests.append(tname)
        path = "%s/%s" % (vdir, v["file"])
        header = v["messageHeader"]

        # walk function for the prefix test
        self.w("static int %s_walk(const uint8_t *buf, size_t len)" % tname)
        self.w("{")
        self.w("    %s_t m;" % mp)
        if header:
            self.w("    int rc = %s_wrap_for_decode_with_header(&m, buf, 0, len);" % mp)
        else:
            self.w("    int rc = %s_wrap_for_decode(&m, buf, 0, %d, %d, len);" % (mp, msg.block_length, schema.version))
        self.w("    if (0 != rc)")
        self.w("    {")
        self.w("        return rc;")
        self.w("    }")
        self.w("    rc = %s_skip(&m);" % mp)
        self.w("    return 0 == rc && %s_position(&m) == len ? 0 : (0 == rc ? 1 : rc);" % mp)
        self.w("}")
        self.w()
        self.w("static void %s(void)" % tname)
        self.w("{")
        self.w("    size_t len = 0;")
        self.w('    uint8_t *bin = load_vector("%s", &len);' % path)
        self.w('    TP_ASSERT_MSG(NULL != bin, "cannot read %s");' % path)
        self.w("    TP_ASSERT_EQ_U64(%d, len);" % v["encodedLength"])
        self.w("    {")
        self.w("        %s_t m;" % mp)
        if header:
            self.w("        TP_ASSERT_EQ_I64(0, %s_wrap_for_decode_with_header(&m, bin, 0, len));" % mp)
        else:
            self.w("        TP_ASSERT_EQ_I64(0, %s_wrap_for_decode(&m, bin, 0, %d, %d, len));" %
                   (mp, msg.block_length, schema.version))
        self.check_fields(mp, msg, v["fields"], "&m", "        ")
        self.w("        TP_ASSERT_EQ_U64(len, %s_position(&m));" % mp)
        self.w("    }")
        self.w("    {")
        self.w("        uint8_t *out = calloc(1, len);")
        self.w("        TP_ASSERT(NULL != out);")
        self.w("        %s_t e;" % mp)
        if header:
            self.w("        TP_ASSERT_EQ_I64(0, %s_wrap_and_apply_header(&e, out, 0, len));" % mp)
        else:
            self.w("        TP_ASSERT_EQ_I64(0, %s_wrap_for_encode(&e, out, 0, len));" % mp)
        self.encode_fields(mp, msg, v["fields"], "&e", "        ")
        self.w("        TP_ASSERT_EQ_U64(len, %s_position(&e));" % mp)
        self.w("        size_t diff = first_diff(out, bin, len);")
        self.w('        free(out);')
        self.w('        TP_ASSERT_MSG(diff == len, "%s: re-encoded bytes differ from the vector at offset %%zu", diff);'
               % path)
        self.w("    }")
        self.w("    TP_ASSERT_EQ_I64(0, %s_walk(bin, len));" % tname)
        self.w("    for (size_t n = 0; n < len; n++)")
        self.w("    {")
        self.w("        uint8_t *prefix = malloc(n > 0 ? n : 1);")
        self.w("        TP_ASSERT(NULL != prefix);")
        self.w("        memcpy(prefix, bin, n);")
        self.w("        int rc = %s_walk(0 == n ? NULL : prefix, n);" % tname)
        self.w("        free(prefix);")
        self.w('        TP_ASSERT_MSG(0 != rc, "%s: a %%zu-byte prefix decoded as a whole message", n);' % path)
        self.w("    }")
        self.w("    free(bin);")
        self.w("}")
        self.w()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--map", action="append", default=[], metavar="DIR=SHORT=SCHEMA")
    args = ap.parse_args()
    g = Gen()
    includes = []
    for m in args.map:
        vdir, short, schema_path = m.split("=", 2)
        schema = sbe_schema.load(schema_path)
        includes.append('#include "tp_sbe/%s.h"' % short)
        with open(os.path.join(args.vectors, vdir, "vectors.json")) as f:
            vec = json.load(f)
        for v in vec["vectors"]:
            g.vector(vdir, short, schema, v)
    head = [
        "/* Generated by tests/codec/gen_vector_tests.py: do not edit. */",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        '#include "tp_test.h"',
    ] + includes + [
        "",
        "static const char *tp_vectors_dir = NULL;",
        "",
        "static uint8_t *load_vector(const char *rel, size_t *len)",
        "{",
        "    char path[4096];",
        '    snprintf(path, sizeof(path), "%s/%s", tp_vectors_dir, rel);',
        '    FILE *f = fopen(path, "rb");',
        "    if (NULL == f)",
        "    {",
        "        return NULL;",
        "    }",
        "    fseek(f, 0, SEEK_END);",
        "    long n = ftell(f);",
        "    fseek(f, 0, SEEK_SET);",
        "    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);",
        "    if (NULL != buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)",
        "    {",
        "        free(buf);",
        "        buf = NULL;",
        "    }",
        "    fclose(f);",
        "    *len = n > 0 ? (size_t)n : 0;",
        "    return buf;",
        "}",
        "",
        "static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t len)",
        "{",
        "    for (size_t i = 0; i < len; i++)",
        "    {",
        "        if (a[i] != b[i])",
        "        {",
        "            return i;",
        "        }",
        "    }",
        "    return len;",
        "}",
        "",
    ]
    tail = [
        "int main(int argc, char **argv)",
        "{",
        "    if (argc < 2)",
        "    {",
        '        fprintf(stderr, "usage: %s VECTORS_DIR\\n", argv[0]);',
        "        return 2;",
        "    }",
        "    tp_vectors_dir = argv[1];",
    ] + ["    TP_RUN(%s);" % t for t in g.tests] + [
        '    fprintf(stderr, "%d vectors checked\\n", ' + str(len(g.tests)) + ");",
        "    return tp_test_finish();",
        "}",
    ]
    text = "\n".join(head + g.lines + tail) + "\n"
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()

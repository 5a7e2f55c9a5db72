/*
 * Tests of the strict TOML reader (src/common/tp_toml.c): every supported
 * feature, every strictness rule with the exact line:col of its message,
 * the typed getters and their messages, environment overrides, the example
 * driver/bridge configs, and a bounded mutation "fuzz" run.
 */
#include "tp_test.h"

#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "common/tp_error.h"
#include "common/tp_toml.h"

#define NAME "t.toml"

static int parse(const char *text, tp_toml_t **doc)
{
    return tp_toml_parse_string(text, strlen(text), NAME, doc);
}

static bool starts_with(const char *s, const char *prefix)
{
    return 0 == strncmp(s, prefix, strlen(prefix));
}

/* Parse must fail with TP_ERR_CONFIG, message starting with `where` and containing `fragment`. */
#define ASSERT_PARSE_FAILS_N(text, len, where, fragment) \
    do \
    { \
        tp_toml_t *d_ = NULL; \
        TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_parse_string((text), (len), NAME, &d_)); \
        TP_ASSERT(NULL == d_); \
        TP_ASSERT_MSG(starts_with(tp_errmsg(), (where)), "input %s: message should start with '%s'", #text, \
            (where)); \
        TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), (fragment)), "input %s: message should contain '%s'", #text, \
            (fragment)); \
    } \
    while (0)

#define ASSERT_PARSE_FAILS(text, where, fragment) ASSERT_PARSE_FAILS_N(text, strlen(text), where, fragment)

#define ASSERT_PARSES(text) \
    do \
    { \
        tp_toml_t *d_ = NULL; \
        TP_ASSERT_MSG(0 == parse((text), &d_), "input %s should parse", #text); \
        tp_toml_free(d_); \
    } \
    while (0)

static int64_t get_i(const tp_toml_value_t *root, const char *path)
{
    int64_t v = -777;
    if (0 != tp_toml_integer_i64(tp_toml_lookup(root, path), &v))
    {
        return -777;
    }
    return v;
}

/* ------------------------------------------------------------------------ */

static void test_toml_scalars_and_lines(void)
{
    const char *text =
        "# a comment line\n"
        "s = \"hello\"   # trailing comment\n"
        "i = 42\n"
        "f = 1.5\n"
        "t = true\n"
        "b = false\n"
        "\n"
        "\t  indented = -7\n";
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_ASSERT_EQ_U64(TP_TOML_TABLE, tp_toml_type(root));
    TP_ASSERT_EQ_U64(6, tp_toml_table_size(root));
    const tp_toml_value_t *v = tp_toml_lookup(root, "s");
    TP_ASSERT_EQ_U64(TP_TOML_STRING, tp_toml_type(v));
    TP_ASSERT_STREQ("hello", tp_toml_string(v));
    TP_ASSERT_EQ_U64(5, tp_toml_string_len(v));
    TP_ASSERT_EQ_U64(2, tp_toml_value_line(v));
    TP_ASSERT_EQ_I64(42, get_i(root, "i"));
    TP_ASSERT_EQ_U64(3, tp_toml_value_line(tp_toml_lookup(root, "i")));
    TP_ASSERT_EQ_U64(TP_TOML_FLOAT, tp_toml_type(tp_toml_lookup(root, "f")));
    TP_ASSERT(1.5 == tp_toml_double(tp_toml_lookup(root, "f")));
    TP_ASSERT_EQ_U64(TP_TOML_BOOL, tp_toml_type(tp_toml_lookup(root, "t")));
    TP_ASSERT(tp_toml_bool(tp_toml_lookup(root, "t")));
    TP_ASSERT(!tp_toml_bool(tp_toml_lookup(root, "b")));
    TP_ASSERT_EQ_I64(-7, get_i(root, "indented"));
    TP_ASSERT_EQ_U64(8, tp_toml_value_line(tp_toml_lookup(root, "indented")));
    TP_ASSERT_STREQ("s", tp_toml_table_key(root, 0));
    TP_ASSERT_STREQ("indented", tp_toml_table_key(root, 5));
    TP_ASSERT(NULL == tp_toml_table_key(root, 6));
    TP_ASSERT(NULL == tp_toml_lookup(root, "missing"));
    TP_ASSERT(NULL == tp_toml_lookup(root, "s.x"));
    TP_ASSERT_STREQ(NAME, tp_toml_name(doc));
    TP_ASSERT_STREQ("table", tp_toml_type_name(TP_TOML_TABLE));
    TP_ASSERT_STREQ("boolean", tp_toml_type_name(TP_TOML_BOOL));
    tp_toml_free(doc);

    /* Empty documents, CRLF line endings, a UTF-8 BOM. */
    TP_ASSERT_OK(tp_toml_parse_string("", 0, NAME, &doc));
    TP_ASSERT_EQ_U64(0, tp_toml_table_size(tp_toml_root(doc)));
    tp_toml_free(doc);
    TP_ASSERT_OK(parse("a = 1\r\n# c\r\nb = \"x\"\r\n", &doc));
    TP_ASSERT_EQ_U64(3, tp_toml_value_line(tp_toml_lookup(tp_toml_root(doc), "b")));
    tp_toml_free(doc);
    TP_ASSERT_OK(parse("\xef\xbb\xbf" "a = 1\n", &doc));
    TP_ASSERT_EQ_I64(1, get_i(tp_toml_root(doc), "a"));
    tp_toml_free(doc);
    TP_ASSERT_OK(parse("a = 1", &doc)); /* no final newline */
    tp_toml_free(doc);
}

static void test_toml_strings(void)
{
    const char *text =
        "esc = \"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f\"\n"
        "uni = \"\\u00e9\\u20AC\\U0001F600\"\n"
        "raw = \"caf\xc3\xa9 \xe2\x82\xac\"\n"
        "lit = 'C:\\path\\no\\escape \"q\"'\n"
        "empty = \"\"\n"
        "lit_empty = ''\n"
        "ml = \"\"\"\n"
        "first\n"
        "second\"\"\"\n"
        "ml_trim = \"\"\"one \\\n"
        "      two \\\n"
        "\n"
        "   three\"\"\"\n"
        "ml_quotes = \"\"\"a \"quoted\" \"\"word\"\" \"\"\"\"\"\n"
        "ml_lit = '''\n"
        "raw \\n 'single' ''two''\n"
        "end'''\n"
        "ml_lit_q = '''x'''''\n"
        "tab = \"a\tb\"\n"
        "after = 1\n";
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_ASSERT_STREQ("q\" b\\ n\n t\t r\r b\b f\f", tp_toml_string(tp_toml_lookup(root, "esc")));
    TP_ASSERT_STREQ("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", tp_toml_string(tp_toml_lookup(root, "uni")));
    TP_ASSERT_STREQ("caf\xc3\xa9 \xe2\x82\xac", tp_toml_string(tp_toml_lookup(root, "raw")));
    TP_ASSERT_STREQ("C:\\path\\no\\escape \"q\"", tp_toml_string(tp_toml_lookup(root, "lit")));
    TP_ASSERT_STREQ("", tp_toml_string(tp_toml_lookup(root, "empty")));
    TP_ASSERT_STREQ("", tp_toml_string(tp_toml_lookup(root, "lit_empty")));
    TP_ASSERT_STREQ("first\nsecond", tp_toml_string(tp_toml_lookup(root, "ml")));
    TP_ASSERT_EQ_U64(7, tp_toml_value_line(tp_toml_lookup(root, "ml")));
    TP_ASSERT_STREQ("one two three", tp_toml_string(tp_toml_lookup(root, "ml_trim")));
    TP_ASSERT_EQ_U64(10, tp_toml_value_line(tp_toml_lookup(root, "ml_trim")));
    TP_ASSERT_STREQ("a \"quoted\" \"\"word\"\" \"\"", tp_toml_string(tp_toml_lookup(root, "ml_quotes")));
    TP_ASSERT_STREQ("raw \\n 'single' ''two''\nend", tp_toml_string(tp_toml_lookup(root, "ml_lit")));
    TP_ASSERT_STREQ("x''", tp_toml_string(tp_toml_lookup(root, "ml_lit_q")));
    TP_ASSERT_STREQ("a\tb", tp_toml_string(tp_toml_lookup(root, "tab")));
    TP_ASSERT_EQ_U64(20, tp_toml_value_line(tp_toml_lookup(root, "after")));
    tp_toml_free(doc);

    /* CRLF inside a multi-line string becomes LF. */
    TP_ASSERT_OK(parse("m = \"\"\"\r\na\r\nb\"\"\"\r\n", &doc));
    TP_ASSERT_STREQ("a\nb", tp_toml_string(tp_toml_lookup(tp_toml_root(doc), "m")));
    tp_toml_free(doc);
}

static void test_toml_integers(void)
{
    const char *text =
        "a = 0\n"
        "b = +17\n"
        "c = -0\n"
        "d = 1_000_000\n"
        "e = 0xDEAD_beef\n"
        "f = 0o755\n"
        "g = 0b1101_0101\n"
        "max = 9223372036854775807\n"
        "min = -9223372036854775808\n"
        "umax = 18446744073709551615\n"
        "hmax = 0xffffffffffffffff\n"
        "lead_hex = 0x0001\n";
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_ASSERT_EQ_I64(0, get_i(root, "a"));
    TP_ASSERT_EQ_I64(17, get_i(root, "b"));
    TP_ASSERT_EQ_I64(0, get_i(root, "c"));
    TP_ASSERT_EQ_I64(1000000, get_i(root, "d"));
    TP_ASSERT_EQ_I64(0xdeadbeef, get_i(root, "e"));
    TP_ASSERT_EQ_I64(0755, get_i(root, "f"));
    TP_ASSERT_EQ_I64(0xd5, get_i(root, "g"));
    TP_ASSERT_EQ_I64(INT64_MAX, get_i(root, "max"));
    TP_ASSERT_EQ_I64(INT64_MIN, get_i(root, "min"));
    TP_ASSERT_EQ_I64(1, get_i(root, "lead_hex"));
    uint64_t u = 0;
    int64_t i = 0;
    TP_ASSERT_OK(tp_toml_integer_u64(tp_toml_lookup(root, "umax"), &u));
    TP_ASSERT_EQ_U64(UINT64_MAX, u);
    TP_ASSERT_OK(tp_toml_integer_u64(tp_toml_lookup(root, "hmax"), &u));
    TP_ASSERT_EQ_U64(UINT64_MAX, u);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_integer_i64(tp_toml_lookup(root, "umax"), &i));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_integer_u64(tp_toml_lookup(root, "min"), &u));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_integer_i64(tp_toml_root(doc), &i));
    TP_ASSERT(18446744073709551615.0 == tp_toml_double(tp_toml_lookup(root, "umax")));
    tp_toml_free(doc);
}

static void test_toml_floats(void)
{
    const char *text =
        "a = 1.5\n"
        "b = -2e-3\n"
        "c = 6.02E+23\n"
        "d = 1_000.25\n"
        "e = 0.0\n"
        "f = inf\n"
        "g = -inf\n"
        "h = +inf\n"
        "i = nan\n"
        "j = -nan\n"
        "k = 1e06\n"
        "l = 3e1_0\n"
        "m = -0.0\n";
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_ASSERT(1.5 == tp_toml_double(tp_toml_lookup(root, "a")));
    TP_ASSERT(-2e-3 == tp_toml_double(tp_toml_lookup(root, "b")));
    TP_ASSERT(6.02e23 == tp_toml_double(tp_toml_lookup(root, "c")));
    TP_ASSERT(1000.25 == tp_toml_double(tp_toml_lookup(root, "d")));
    TP_ASSERT(0.0 == tp_toml_double(tp_toml_lookup(root, "e")));
    TP_ASSERT(isinf(tp_toml_double(tp_toml_lookup(root, "f"))) && tp_toml_double(tp_toml_lookup(root, "f")) > 0);
    TP_ASSERT(isinf(tp_toml_double(tp_toml_lookup(root, "g"))) && tp_toml_double(tp_toml_lookup(root, "g")) < 0);
    TP_ASSERT(isinf(tp_toml_double(tp_toml_lookup(root, "h"))));
    TP_ASSERT(isnan(tp_toml_double(tp_toml_lookup(root, "i"))));
    TP_ASSERT(isnan(tp_toml_double(tp_toml_lookup(root, "j"))));
    TP_ASSERT(1e6 == tp_toml_double(tp_toml_lookup(root, "k")));
    TP_ASSERT(3e10 == tp_toml_double(tp_toml_lookup(root, "l")));
    TP_ASSERT(signbit(tp_toml_double(tp_toml_lookup(root, "m"))));
    for (size_t n = 0; n < tp_toml_table_size(root); n++)
    {
        TP_ASSERT_EQ_U64(TP_TOML_FLOAT, tp_toml_type(tp_toml_table_value(root, n)));
    }
    tp_toml_free(doc);
}

static void test_toml_tables_and_keys(void)
{
    const char *text =
        "top = 1\n"                      /* 1 */
        "site.name = \"x\"\n"            /* 2 */
        "site . port = 80\n"             /* 3 */
        "\"quoted key\" = 2\n"           /* 4 */
        "'lit.key' = 3\n"                /* 5 */
        "\"\" = 4\n"                     /* 6 */
        "1234 = 5\n"                     /* 7 */
        "with-dash_under = 6\n"          /* 8 */
        "\n"                             /* 9 */
        "[server]\n"                     /* 10 */
        "host = \"h\"\n"                 /* 11 */
        "[server.tls]\n"                 /* 12 */
        "enabled = true\n"               /* 13 */
        "[ deep . \"x y\" . z ]\n"       /* 14 */
        "k = 1\n"                        /* 15 */
        "[deep]\n"                       /* 16 */
        "own = 2\n"                      /* 17 */
        "[fruit]\n"                      /* 18 */
        "apple.color = \"red\"\n"        /* 19 */
        "apple.taste.sweet = true\n"     /* 20 */
        "[fruit.apple.texture]\n"        /* 21 */
        "smooth = true\n";               /* 22 */
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_ASSERT_STREQ("x", tp_toml_string(tp_toml_lookup(root, "site.name")));
    TP_ASSERT_EQ_I64(80, get_i(root, "site.port"));
    TP_ASSERT_EQ_U64(2, tp_toml_value_line(tp_toml_lookup(root, "site")));
    TP_ASSERT_EQ_I64(2, get_i(root, "quoted key"));
    TP_ASSERT(NULL != tp_toml_table_get(root, "lit.key"));
    TP_ASSERT(NULL == tp_toml_lookup(root, "lit.key"));
    TP_ASSERT(NULL != tp_toml_table_get(root, ""));
    TP_ASSERT_EQ_I64(5, get_i(root, "1234"));
    TP_ASSERT_EQ_I64(6, get_i(root, "with-dash_under"));
    TP_ASSERT_STREQ("h", tp_toml_string(tp_toml_lookup(root, "server.host")));
    TP_ASSERT(tp_toml_bool(tp_toml_lookup(root, "server.tls.enabled")));
    TP_ASSERT_EQ_U64(12, tp_toml_value_line(tp_toml_lookup(root, "server.tls")));
    const tp_toml_value_t *deep = tp_toml_lookup(root, "deep");
    TP_ASSERT_EQ_U64(16, tp_toml_value_line(deep)); /* implicit table, later defined by its header */
    TP_ASSERT_EQ_I64(1, get_i(tp_toml_table_get(deep, "x y"), "z.k"));
    TP_ASSERT_EQ_I64(2, get_i(deep, "own"));
    TP_ASSERT_STREQ("red", tp_toml_string(tp_toml_lookup(root, "fruit.apple.color")));
    TP_ASSERT(tp_toml_bool(tp_toml_lookup(root, "fruit.apple.taste.sweet")));
    TP_ASSERT(tp_toml_bool(tp_toml_lookup(root, "fruit.apple.texture.smooth")));

    /* Definition order. */
    const char *order[] = { "top", "site", "quoted key", "lit.key", "", "1234", "with-dash_under", "server",
        "deep", "fruit" };
    TP_ASSERT_EQ_U64(sizeof(order) / sizeof(order[0]), tp_toml_table_size(root));
    for (size_t n = 0; n < sizeof(order) / sizeof(order[0]); n++)
    {
        TP_ASSERT_STREQ(order[n], tp_toml_table_key(root, n));
    }

    /* Paths. */
    char path[128];
    tp_toml_value_path(tp_toml_lookup(tp_toml_table_get(deep, "x y"), "z.k"), path, sizeof(path));
    TP_ASSERT_STREQ("deep.\"x y\".z.k", path);
    tp_toml_value_path(tp_toml_table_get(root, "lit.key"), path, sizeof(path));
    TP_ASSERT_STREQ("\"lit.key\"", path);
    tp_toml_value_path(root, path, sizeof(path));
    TP_ASSERT_STREQ("", path);
    char small[6];
    TP_ASSERT_EQ_U64(strlen("server.tls.enabled"),
        tp_toml_value_path(tp_toml_lookup(root, "server.tls.enabled"), small, sizeof(small)));
    TP_ASSERT_STREQ("serve", small);
    tp_toml_free(doc);

    /* Other valid orderings from the TOML spec. */
    ASSERT_PARSES("[a.b.c]\nz = 1\n[a]\nx = 1\n");
    ASSERT_PARSES("[a.b.c]\nz = 1\n[a]\nb.y = 1\n");
    ASSERT_PARSES("[[a.b]]\nx = 1\n[a]\ny = 2\n");
    ASSERT_PARSES("a.b = 1\n[a.c]\nd = 2\n");
    ASSERT_PARSES("[a]\nb.c = 1\n[a.b.d]\ne = 1\n");
}

static void test_toml_arrays_and_inline_tables(void)
{
    const char *text =
        "ints = [1, 2, 3]\n"                                    /* 1 */
        "empty = []\n"                                          /* 2 */
        "mixed = [1, \"two\", 3.0, true, [4], { five = 5 }]\n"  /* 3 */
        "multi = [\n"                                           /* 4 */
        "  \"a\",   # first\n"                                  /* 5 */
        "  # a comment line\n"                                  /* 6 */
        "\n"                                                    /* 7 */
        "  'b',\n"                                              /* 8 */
        "]\n"                                                   /* 9 */
        "nested = [[1, 2], [[3]], []]\n"                        /* 10 */
        "point = { x = 1, y = -2, label.text = \"p\" }\n"       /* 11 */
        "empty_tbl = {}\n"                                      /* 12 */
        "nest = { inner = { deep = [1, { z = true }] } }\n"     /* 13 */
        "spread = { list = [\n"                                 /* 14 */
        "  1, 2\n"                                              /* 15 */
        "] }\n";                                                /* 16 */
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    const tp_toml_value_t *ints = tp_toml_lookup(root, "ints");
    TP_ASSERT_EQ_U64(TP_TOML_ARRAY, tp_toml_type(ints));
    TP_ASSERT_EQ_U64(3, tp_toml_array_size(ints));
    TP_ASSERT(NULL == tp_toml_array_at(ints, 3));
    int64_t v = 0;
    TP_ASSERT_OK(tp_toml_integer_i64(tp_toml_array_at(ints, 2), &v));
    TP_ASSERT_EQ_I64(3, v);
    TP_ASSERT_EQ_U64(0, tp_toml_array_size(tp_toml_lookup(root, "empty")));
    const tp_toml_value_t *mixed = tp_toml_lookup(root, "mixed");
    TP_ASSERT_EQ_U64(6, tp_toml_array_size(mixed));
    TP_ASSERT_EQ_U64(TP_TOML_STRING, tp_toml_type(tp_toml_array_at(mixed, 1)));
    TP_ASSERT_EQ_U64(TP_TOML_FLOAT, tp_toml_type(tp_toml_array_at(mixed, 2)));
    TP_ASSERT_EQ_U64(TP_TOML_BOOL, tp_toml_type(tp_toml_array_at(mixed, 3)));
    TP_ASSERT_EQ_U64(TP_TOML_ARRAY, tp_toml_type(tp_toml_array_at(mixed, 4)));
    TP_ASSERT_EQ_I64(5, get_i(tp_toml_array_at(mixed, 5), "five"));
    const tp_toml_value_t *multi = tp_toml_lookup(root, "multi");
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(multi));
    TP_ASSERT_STREQ("b", tp_toml_string(tp_toml_array_at(multi, 1)));
    TP_ASSERT_EQ_U64(8, tp_toml_value_line(tp_toml_array_at(multi, 1)));
    TP_ASSERT_EQ_U64(4, tp_toml_value_line(multi));
    TP_ASSERT_EQ_U64(10, tp_toml_value_line(tp_toml_lookup(root, "nested")));
    TP_ASSERT_EQ_U64(1, tp_toml_array_size(tp_toml_array_at(tp_toml_lookup(root, "nested"), 1)));
    TP_ASSERT_EQ_I64(-2, get_i(root, "point.y"));
    TP_ASSERT_STREQ("p", tp_toml_string(tp_toml_lookup(root, "point.label.text")));
    TP_ASSERT_EQ_U64(0, tp_toml_table_size(tp_toml_lookup(root, "empty_tbl")));
    TP_ASSERT_EQ_U64(TP_TOML_TABLE, tp_toml_type(tp_toml_lookup(root, "empty_tbl")));
    const tp_toml_value_t *deep = tp_toml_lookup(root, "nest.inner.deep");
    TP_ASSERT(tp_toml_bool(tp_toml_lookup(tp_toml_array_at(deep, 1), "z")));
    char path[128];
    tp_toml_value_path(tp_toml_lookup(tp_toml_array_at(deep, 1), "z"), path, sizeof(path));
    TP_ASSERT_STREQ("nest.inner.deep[1].z", path);
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(tp_toml_lookup(root, "spread.list")));
    tp_toml_free(doc);
}

static void test_toml_array_of_tables(void)
{
    const char *text =
        "[[mappings]]\n"              /* 1 */
        "source = 1\n"                /* 2 */
        "[mappings.extra]\n"          /* 3 */
        "note = \"first\"\n"          /* 4 */
        "\n"                          /* 5 */
        "[[mappings]]\n"              /* 6 */
        "source = 2\n"                /* 7 */
        "[[mappings.ports]]\n"        /* 8 */
        "p = 10\n"                    /* 9 */
        "[[mappings.ports]]\n"        /* 10 */
        "p = 11\n"                    /* 11 */
        "[[ empty ]]\n"               /* 12 */
        "[[empty]]\n";                /* 13 */
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    const tp_toml_value_t *m = tp_toml_lookup(root, "mappings");
    TP_ASSERT_EQ_U64(TP_TOML_ARRAY, tp_toml_type(m));
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(m));
    TP_ASSERT_EQ_U64(1, tp_toml_value_line(tp_toml_array_at(m, 0)));
    TP_ASSERT_EQ_U64(6, tp_toml_value_line(tp_toml_array_at(m, 1)));
    TP_ASSERT_EQ_I64(1, get_i(tp_toml_array_at(m, 0), "source"));
    TP_ASSERT_STREQ("first", tp_toml_string(tp_toml_lookup(tp_toml_array_at(m, 0), "extra.note")));
    TP_ASSERT_EQ_I64(2, get_i(tp_toml_array_at(m, 1), "source"));
    const tp_toml_value_t *ports = tp_toml_lookup(tp_toml_array_at(m, 1), "ports");
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(ports));
    TP_ASSERT_EQ_I64(11, get_i(tp_toml_array_at(ports, 1), "p"));
    TP_ASSERT_EQ_U64(11, tp_toml_value_line(tp_toml_lookup(tp_toml_array_at(ports, 1), "p")));
    char path[128];
    tp_toml_value_path(tp_toml_lookup(tp_toml_array_at(ports, 1), "p"), path, sizeof(path));
    TP_ASSERT_STREQ("mappings[1].ports[1].p", path);
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(tp_toml_lookup(root, "empty")));
    TP_ASSERT_EQ_U64(0, tp_toml_table_size(tp_toml_array_at(tp_toml_lookup(root, "empty"), 1)));
    tp_toml_free(doc);
}

static void test_toml_syntax_errors(void)
{
    /* strings */
    ASSERT_PARSE_FAILS("a = 1\nb = \"abc\n", NAME ":2:5: ", "unterminated string");
    ASSERT_PARSE_FAILS("a = 1\nb = \"abc", NAME ":2:5: ", "unterminated string");
    ASSERT_PARSE_FAILS("a = 'abc\n", NAME ":1:5: ", "unterminated string");
    ASSERT_PARSE_FAILS("a = \"\"\"\nabc\n", NAME ":1:5: ", "missing closing \"\"\"");
    ASSERT_PARSE_FAILS("x = 0\na = '''\nabc''\n", NAME ":2:5: ", "missing closing '''");
    ASSERT_PARSE_FAILS("a = \"\\q\"\n", NAME ":1:6: ", "invalid escape sequence");
    ASSERT_PARSE_FAILS("a = \"\\x41\"\n", NAME ":1:6: ", "invalid escape sequence");
    ASSERT_PARSE_FAILS("a = \"\\u12\"\n", NAME ":1:6: ", "exactly 4 hexadecimal digits");
    ASSERT_PARSE_FAILS("a = \"\\U0001F60\"\n", NAME ":1:6: ", "exactly 8 hexadecimal digits");
    ASSERT_PARSE_FAILS("a = \"\\uD800\"\n", NAME ":1:6: ", "not a Unicode scalar value");
    ASSERT_PARSE_FAILS("a = \"\\U00110000\"\n", NAME ":1:6: ", "not a Unicode scalar value");
    ASSERT_PARSE_FAILS("a = \"\\u0000\"\n", NAME ":1:6: ", "NUL");
    ASSERT_PARSE_FAILS("a = \"bell\x07\"\n", NAME ":1:10: ", "control character 0x07");
    ASSERT_PARSE_FAILS("a = 'lit\x01'\n", NAME ":1:9: ", "control character 0x01");
    ASSERT_PARSE_FAILS("a = \"\"\"\nx\x7f\"\"\"\n", NAME ":2:2: ", "control character 0x7f");
    ASSERT_PARSE_FAILS("a = \"\"\"x\"\"\"\"\"\"\n", NAME ":1:9: ", "too many quotes");
    ASSERT_PARSE_FAILS("a = \"\"\"\nline \\ x\"\"\"\n", NAME ":2:6: ", "invalid escape");
    ASSERT_PARSE_FAILS("# comment \x01\n", NAME ":1:11: ", "control character 0x01 in comment");
    ASSERT_PARSE_FAILS("\"\"\"k\"\"\" = 1\n", NAME ":1:1: ", "multi-line strings cannot be used as keys");

    /* numbers */
    ASSERT_PARSE_FAILS("a = 007\n", NAME ":1:5: ", "leading zeros");
    ASSERT_PARSE_FAILS("a = 1.05\nb = 01.5\n", NAME ":2:5: ", "leading zeros");
    ASSERT_PARSE_FAILS("a = -01\n", NAME ":1:5: ", "leading zeros");
    ASSERT_PARSE_FAILS("a = 18446744073709551616\n", NAME ":1:5: ", "integer overflow");
    ASSERT_PARSE_FAILS("a = -9223372036854775809\n", NAME ":1:5: ", "integer overflow");
    ASSERT_PARSE_FAILS("a = 0x1_0000_0000_0000_0000\n", NAME ":1:5: ", "integer overflow");
    ASSERT_PARSE_FAILS("a = +0x10\n", NAME ":1:5: ", "cannot have a sign");
    ASSERT_PARSE_FAILS("a = 1__0\n", NAME ":1:5: ", "'_' must be between two digits");
    ASSERT_PARSE_FAILS("a = 1_\n", NAME ":1:5: ", "'_' must be between two digits");
    ASSERT_PARSE_FAILS("a = _1\n", NAME ":1:5: ", "invalid value");
    ASSERT_PARSE_FAILS("a = 0x_1\n", NAME ":1:5: ", "'_' must be between two digits");
    ASSERT_PARSE_FAILS("a = 0x\n", NAME ":1:5: ", "missing digits");
    ASSERT_PARSE_FAILS("a = 0b102\n", NAME ":1:5: ", "unexpected '2' in binary integer");
    ASSERT_PARSE_FAILS("a = 0o8\n", NAME ":1:5: ", "unexpected '8' in octal integer");
    ASSERT_PARSE_FAILS("a = 12a\n", NAME ":1:5: ", "unexpected 'a' in decimal integer");
    ASSERT_PARSE_FAILS("a = 1e\n", NAME ":1:5: ", "missing digits in the exponent");
    ASSERT_PARSE_FAILS("a = 1.\n", NAME ":1:5: ", "missing digits in the fraction");
    ASSERT_PARSE_FAILS("a = .5\n", NAME ":1:5: ", "invalid value");
    ASSERT_PARSE_FAILS("a = 1.5.3\n", NAME ":1:5: ", "invalid number");
    ASSERT_PARSE_FAILS("a = 1e999\n", NAME ":1:5: ", "float out of range");
    ASSERT_PARSE_FAILS("a = infinity\n", NAME ":1:5: ", "invalid value");
    ASSERT_PARSE_FAILS("a = 1979-05-27\n", NAME ":1:5: ", "dates and times are not supported");
    ASSERT_PARSE_FAILS("a = 1979-05-27T07:32:00Z\n", NAME ":1:5: ", "dates and times are not supported");
    ASSERT_PARSE_FAILS("a = 07:32:00\n", NAME ":1:5: ", "dates and times are not supported");

    /* keys, values, structure */
    ASSERT_PARSE_FAILS("k\xc3\xa9 = 1\n", NAME ":1:2: ", "invalid character byte 0xc3 in bare key");
    ASSERT_PARSE_FAILS("a$b = 1\n", NAME ":1:2: ", "invalid character '$' in bare key");
    ASSERT_PARSE_FAILS("[a/b]\n", NAME ":1:3: ", "invalid character '/' in bare key");
    ASSERT_PARSE_FAILS("\n\nkey value\n", NAME ":3:5: ", "expected '=' after key 'key'");
    ASSERT_PARSE_FAILS("key\n", NAME ":1:4: ", "expected '=' after key 'key', found end of line");
    ASSERT_PARSE_FAILS("= 1\n", NAME ":1:1: ", "expected a key");
    ASSERT_PARSE_FAILS("a. = 1\n", NAME ":1:4: ", "expected a key");
    ASSERT_PARSE_FAILS("a =\n", NAME ":1:4: ", "missing value");
    ASSERT_PARSE_FAILS("a = # nothing\n", NAME ":1:5: ", "missing value");
    ASSERT_PARSE_FAILS("a = tru\n", NAME ":1:5: ", "invalid value 'tru'");
    ASSERT_PARSE_FAILS("a = True\n", NAME ":1:5: ", "invalid value 'True'");
    ASSERT_PARSE_FAILS("a = bare\n", NAME ":1:5: ", "strings must be quoted");
    ASSERT_PARSE_FAILS("a = truex\n", NAME ":1:5: ", "invalid value 'truex'");
    ASSERT_PARSE_FAILS("a = 1 2\n", NAME ":1:7: ", "unexpected '2' after a value");
    ASSERT_PARSE_FAILS("a = \"x\" y\n", NAME ":1:9: ", "unexpected 'y' after a value");
    ASSERT_PARSE_FAILS("a = true false\n", NAME ":1:10: ", "after a value");
    ASSERT_PARSE_FAILS("[t] x = 1\n", NAME ":1:5: ", "after a table header");
    ASSERT_PARSE_FAILS("[a\n", NAME ":1:3: ", "expected ']' to close the table header");
    ASSERT_PARSE_FAILS("[[a]\n", NAME ":1:5: ", "expected ']]' to close the table header");
    ASSERT_PARSE_FAILS("[]\n", NAME ":1:2: ", "expected a key");
    ASSERT_PARSE_FAILS("a = @\n", NAME ":1:5: ", "expected a value, found '@'");

    /* arrays and inline tables */
    ASSERT_PARSE_FAILS("a = 1\n\nb = [1, 2\n", NAME ":3:5: ", "unterminated array");
    ASSERT_PARSE_FAILS("x = 1\ny = [1, 2\nz = 3\n", NAME ":3:1: ", "expected ',' or ']'");
    ASSERT_PARSE_FAILS("a = [1,,2]\n", NAME ":1:8: ", "expected a value, found ','");
    ASSERT_PARSE_FAILS("a = [,]\n", NAME ":1:6: ", "expected a value, found ','");
    ASSERT_PARSE_FAILS("a = [1 2]\n", NAME ":1:8: ", "expected ',' or ']'");
    ASSERT_PARSE_FAILS("a = { b = 1, }\n", NAME ":1:14: ", "trailing comma");
    ASSERT_PARSE_FAILS("a = { b = 1\n, c = 2 }\n", NAME ":1:12: ", "newline inside an inline table");
    ASSERT_PARSE_FAILS("a = {\n}\n", NAME ":1:6: ", "newline inside an inline table");
    ASSERT_PARSE_FAILS("a = { b = 1", NAME ":1:5: ", "unterminated inline table");
    ASSERT_PARSE_FAILS("a = { b = 1 c = 2 }\n", NAME ":1:13: ", "expected ',' or '}'");
    ASSERT_PARSE_FAILS("a = { b }\n", NAME ":1:9: ", "expected '=' after key 'b'");
    ASSERT_PARSE_FAILS("a = [ # c \x02\n]\n", NAME ":1:11: ", "control character 0x02 in comment");
}

static void test_toml_semantic_errors(void)
{
    ASSERT_PARSE_FAILS("a = 1\nb = 2\na = 3\n", NAME ":3:1: ", "duplicate key 'a' (already defined as an integer at line 1)");
    ASSERT_PARSE_FAILS("\"a\" = 1\na = 2\n", NAME ":2:1: ", "duplicate key 'a'");
    ASSERT_PARSE_FAILS("a = 1\n'a' = 2\n", NAME ":2:1: ", "duplicate key 'a'");
    ASSERT_PARSE_FAILS("[t]\nx = 1\nx = 2\n", NAME ":3:1: ", "duplicate key 't.x'");
    ASSERT_PARSE_FAILS("a = {b = 1, b = 2}\n", NAME ":1:13: ", "duplicate key 'b'");
    ASSERT_PARSE_FAILS("a.b = 1\na.b = 2\n", NAME ":2:3: ", "duplicate key 'a.b'");
    ASSERT_PARSE_FAILS("a.b = 1\na = 2\n", NAME ":2:1: ", "duplicate key 'a' (already defined as a table at line 1)");
    ASSERT_PARSE_FAILS("[t]\nx = 1\n[t]\ny = 2\n", NAME ":3:2: ", "table 't' is already defined (line 1)");
    ASSERT_PARSE_FAILS("[a.b]\nx = 1\n[a]\ny = 2\n[a.b]\n", NAME ":5:4: ", "table 'a.b' is already defined");
    ASSERT_PARSE_FAILS("[a]\nb.c = 1\n[a.b]\n", NAME ":3:4: ", "table 'a.b' is already defined (line 2)");
    ASSERT_PARSE_FAILS("a.b = 1\n[x]\n[a]\n", NAME ":3:2: ", "table 'a' is already defined");
    ASSERT_PARSE_FAILS("a = 1\na.b = 2\n", NAME ":2:1: ", "cannot define keys below 'a': it is already an integer (line 1)");
    ASSERT_PARSE_FAILS("a = 1\n[a.b]\n", NAME ":2:2: ", "cannot define table below 'a': it is already an integer");
    ASSERT_PARSE_FAILS("a = 1\n[a]\n", NAME ":2:2: ", "cannot define table 'a': it is already an integer");
    ASSERT_PARSE_FAILS("a = \"s\"\n[[a]]\n", NAME ":2:3: ", "cannot define array of tables 'a': it is already a string");
    ASSERT_PARSE_FAILS("[a.b.c]\nz = 1\n[a]\nb.c.t = 1\n", NAME ":4:3: ", "cannot extend table 'a.b.c'");
    ASSERT_PARSE_FAILS("[a]\nx.y = 1\n[b]\n[a.x.z]\nq = 1\n[a]\n", NAME ":6:2: ", "table 'a' is already defined");
    ASSERT_PARSE_FAILS("a = { b = 1 }\na.c = 2\n", NAME ":2:1: ", "cannot add keys to inline table 'a'");
    ASSERT_PARSE_FAILS("a = { b = 1 }\n[a.c]\n", NAME ":2:2: ", "it is already an inline table");
    ASSERT_PARSE_FAILS("a = { b = 1 }\n[a]\n", NAME ":2:2: ", "cannot define table 'a': it is already an inline table");
    ASSERT_PARSE_FAILS("a = { b = { c = 1 }, b.d = 2 }\n", NAME ":1:22: ", "cannot add keys to inline table 'b'");
    ASSERT_PARSE_FAILS("[[a]]\n[a]\n", NAME ":2:2: ", "cannot define table 'a': it is already an array of tables");
    ASSERT_PARSE_FAILS("a = [1]\n[[a]]\n", NAME ":2:3: ", "cannot define array of tables 'a': it is already an array");
    ASSERT_PARSE_FAILS("[a]\n[[a]]\n", NAME ":2:3: ", "cannot define array of tables 'a': it is already a table");
    ASSERT_PARSE_FAILS("a = [{b = 1}]\n[a.c]\n", NAME ":2:2: ", "cannot define table below 'a': it is already an array");
    ASSERT_PARSE_FAILS("a = [{b = 1}]\na.c = 1\n", NAME ":2:1: ", "it is already an array");
    ASSERT_PARSE_FAILS("[[a]]\nb = 1\n[[a]]\nb = 1\nb = 2\n", NAME ":5:1: ", "duplicate key 'a[1].b'");
}

static void test_toml_semantic_error_partial_case(void)
{
    /* [a] x.y (dotted) then [a.x.z] is fine (sub-table of a dotted table). */
    ASSERT_PARSES("[a]\nx.y = 1\n[a.x.z]\nq = 1\n");
}

static void test_toml_input_validation(void)
{
    ASSERT_PARSE_FAILS_N("a = 1\nb\0 = 2\n", 13, NAME ":2:2: ", "NUL byte");
    ASSERT_PARSE_FAILS_N("# c\0\n", 5, NAME ":1:4: ", "NUL byte");
    ASSERT_PARSE_FAILS("a = \"\xff\"\n", NAME ":1:6: ", "invalid UTF-8");
    ASSERT_PARSE_FAILS("a = 1\n# \xc0\xaf overlong\n", NAME ":2:3: ", "invalid UTF-8");
    ASSERT_PARSE_FAILS("a = '\xed\xa0\x80'\n", NAME ":1:6: ", "invalid UTF-8"); /* surrogate */
    ASSERT_PARSE_FAILS("a = '\xf4\x90\x80\x80'\n", NAME ":1:6: ", "invalid UTF-8"); /* > U+10FFFF */
    ASSERT_PARSE_FAILS("a = 1 # \xe2\x82", NAME ":1:9: ", "invalid UTF-8");           /* truncated */
    ASSERT_PARSE_FAILS("a = '\x80'\n", NAME ":1:6: ", "invalid UTF-8");               /* lone continuation */
    ASSERT_PARSE_FAILS("a = 1\rb = 2\n", NAME ":1:6: ", "carriage return");
    ASSERT_PARSE_FAILS("a = 1\r", NAME ":1:6: ", "carriage return");

    /* Size limit: exactly the limit parses, one more byte is rejected. */
    char *big = malloc(TP_TOML_MAX_BYTES + 2);
    TP_ASSERT(NULL != big);
    memset(big, '#', TP_TOML_MAX_BYTES + 1);
    for (size_t i = 99; i < TP_TOML_MAX_BYTES + 1; i += 100)
    {
        big[i] = '\n';
    }
    big[TP_TOML_MAX_BYTES + 1] = '\0';
    tp_toml_t *doc = NULL;
    int rc = tp_toml_parse_string(big, TP_TOML_MAX_BYTES, NAME, &doc);
    tp_toml_free(doc);
    doc = NULL;
    int rc2 = tp_toml_parse_string(big, TP_TOML_MAX_BYTES + 1, NAME, &doc);
    int code2 = tp_errcode();
    char msg[TP_ERRMSG_MAX];
    snprintf(msg, sizeof(msg), "%s", tp_errmsg());
    free(big);
    TP_ASSERT_EQ_I64(0, rc);
    TP_ASSERT_EQ_I64(-1, rc2);
    TP_ASSERT_EQ_I64(TP_ERR_CONFIG, code2);
    TP_ASSERT(NULL == doc);
    TP_ASSERT(starts_with(msg, NAME ": file is too large"));

    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_parse_string(NULL, 3, NAME, &doc));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_parse_string("a = 1", 5, NAME, NULL));
    TP_ASSERT_OK(tp_toml_parse_string("a = 1", 5, NULL, &doc));
    TP_ASSERT_STREQ("<string>", tp_toml_name(doc));
    tp_toml_free(doc);
    tp_toml_free(NULL);
}

static char *repeat(const char *a, size_t n, const char *mid, const char *b, size_t m)
{
    size_t la = strlen(a), lmid = strlen(mid), lb = strlen(b);
    char *s = malloc(la * n + lmid + lb * m + 1);
    if (NULL == s)
    {
        return NULL;
    }
    char *p = s;
    for (size_t i = 0; i < n; i++, p += la)
    {
        memcpy(p, a, la);
    }
    memcpy(p, mid, lmid);
    p += lmid;
    for (size_t i = 0; i < m; i++, p += lb)
    {
        memcpy(p, b, lb);
    }
    *p = '\0';
    return s;
}

static void test_toml_depth_limits(void)
{
    tp_toml_t *doc = NULL;
    char *ok = repeat("[", TP_TOML_MAX_DEPTH, "1", "]", TP_TOML_MAX_DEPTH);
    char *text = malloc(strlen(ok) + 8);
    TP_ASSERT(NULL != text);
    snprintf(text, strlen(ok) + 8, "a = %s\n", ok);
    int rc = parse(text, &doc);
    tp_toml_free(doc);
    free(text);
    free(ok);
    TP_ASSERT_EQ_I64(0, rc);

    char *deep = repeat("[", TP_TOML_MAX_DEPTH + 1, "1", "]", TP_TOML_MAX_DEPTH + 1);
    text = malloc(strlen(deep) + 8);
    TP_ASSERT(NULL != text);
    snprintf(text, strlen(deep) + 8, "a = %s\n", deep);
    free(deep);
    rc = parse(text, &doc);
    free(text);
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":1:37: "));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "nested more than 32 levels"));

    /* Inline tables count too, and a huge unbalanced input fails cleanly. */
    char *inl = repeat("{ a = ", TP_TOML_MAX_DEPTH + 1, "1", " }", TP_TOML_MAX_DEPTH + 1);
    text = malloc(strlen(inl) + 8);
    TP_ASSERT(NULL != text);
    snprintf(text, strlen(inl) + 8, "x = %s\n", inl);
    free(inl);
    rc = parse(text, &doc);
    free(text);
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT(NULL != strstr(tp_errmsg(), "nested more than 32 levels"));
    char *huge = repeat("[", 200000, "", "", 0);
    text = malloc(strlen(huge) + 8);
    TP_ASSERT(NULL != text);
    snprintf(text, strlen(huge) + 8, "a = %s", huge);
    free(huge);
    rc = parse(text, &doc);
    free(text);
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT_EQ_I64(TP_ERR_CONFIG, tp_errcode());

    /* Key components. */
    char *key = repeat("k.", TP_TOML_MAX_KEY_PARTS - 1, "k = 1\n", "", 0);
    rc = parse(key, &doc);
    tp_toml_free(doc);
    free(key);
    TP_ASSERT_EQ_I64(0, rc);
    key = repeat("k.", TP_TOML_MAX_KEY_PARTS, "k = 1\n", "", 0);
    rc = parse(key, &doc);
    free(key);
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":1:65: "));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "more than 32 dotted components"));
    key = repeat("[", 1, "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a]", "", 0);
    rc = parse(key, &doc);
    free(key);
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT(NULL != strstr(tp_errmsg(), "more than 32 dotted components"));
}

static void test_toml_large_table(void)
{
    /* Many keys in one table exercise the hash index; a late duplicate is still caught. */
    const size_t n = 5000;
    char *text = malloc(n * 16 + 64);
    TP_ASSERT(NULL != text);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
    {
        len += (size_t)snprintf(text + len, 16, "k%zu = %zu\n", i, i);
    }
    tp_toml_t *doc = NULL;
    int rc = tp_toml_parse_string(text, len, NAME, &doc);
    if (0 == rc)
    {
        const tp_toml_value_t *root = tp_toml_root(doc);
        bool all = tp_toml_table_size(root) == n;
        for (size_t i = 0; i < n && all; i++)
        {
            char key[16];
            snprintf(key, sizeof(key), "k%zu", i);
            all = get_i(root, key) == (int64_t)i && 0 == strcmp(key, tp_toml_table_key(root, i));
        }
        tp_toml_free(doc);
        TP_ASSERT(all);
    }
    len += (size_t)snprintf(text + len, 32, "k4321 = 0\n");
    int rc2 = tp_toml_parse_string(text, len, NAME, &doc);
    free(text);
    TP_ASSERT_EQ_I64(0, rc);
    TP_ASSERT_EQ_I64(-1, rc2);
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":5001:1: duplicate key 'k4321'"));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "at line 4322"));
}

/* ------------------------------------------------------------------------ */
/* Typed getters                                                            */
/* ------------------------------------------------------------------------ */

static const char *GETTER_DOC =
    "[driver]\n"                                 /* 1 */
    "instance_id = \"d1\"\n"                     /* 2 */
    "control_stream_id = -5\n"                   /* 3 */
    "qos_stream_id = 70000\n"                    /* 4 */
    "big = 18446744073709551615\n"               /* 5 */
    "neg = -9223372036854775808\n"               /* 6 */
    "flag = \"yes\"\n"                           /* 7 */
    "ratio = 2\n"                                /* 8 */
    "name = 5\n"                                 /* 9 */
    "on = true\n"                                /* 10 */
    "pi = 3.25\n"                                /* 11 */
    "dirs = [\"/a\", \"/b\"]\n"                  /* 12 */
    "\n"                                         /* 13 */
    "[[mappings]]\n"                             /* 14 */
    "dest_stream_id = 1\n"                       /* 15 */
    "[[mappings]]\n"                             /* 16 */
    "dest_stream_id = 4294967296\n";             /* 17 */

static void test_toml_getters(void)
{
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(GETTER_DOC, &doc));
    const tp_toml_value_t *driver = tp_toml_lookup(tp_toml_root(doc), "driver");
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    double d = 0;
    bool b = false;
    const char *s = NULL;

    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, NULL, "driver.control_stream_id", &u32, 1000));
    TP_ASSERT_STREQ(NAME ":3: driver.control_stream_id: expected an integer in 0..4294967295, got -5", tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, driver, "control_stream_id", &u32, 1000));
    TP_ASSERT_STREQ(NAME ":3: driver.control_stream_id: expected an integer in 0..4294967295, got -5", tp_errmsg());
    TP_ASSERT_EQ_U64(0, u32); /* unchanged on error */

    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u16(doc, driver, "qos_stream_id", &u16, 1));
    TP_ASSERT_STREQ(NAME ":4: driver.qos_stream_id: expected an integer in 0..65535, got 70000", tp_errmsg());
    TP_ASSERT_OK(tp_toml_get_u32(doc, driver, "qos_stream_id", &u32, 1));
    TP_ASSERT_EQ_U64(70000, u32);
    TP_ASSERT_OK(tp_toml_get_u64(doc, driver, "big", &u64, 1));
    TP_ASSERT_EQ_U64(UINT64_MAX, u64);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_i64(doc, driver, "big", &i64, 1));
    TP_ASSERT_STREQ(NAME ":5: driver.big: expected an integer in -9223372036854775808..9223372036854775807, got "
                         "18446744073709551615",
        tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, driver, "big", &u32, 1));
    TP_ASSERT_OK(tp_toml_get_i64(doc, driver, "neg", &i64, 1));
    TP_ASSERT_EQ_I64(INT64_MIN, i64);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u64(doc, driver, "neg", &u64, 1));
    TP_ASSERT_STREQ(NAME ":6: driver.neg: expected an integer in 0..18446744073709551615, got -9223372036854775808",
        tp_errmsg());

    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_bool(doc, driver, "flag", &b, false));
    TP_ASSERT_STREQ(NAME ":7: driver.flag: expected a boolean (true or false), got a string", tp_errmsg());
    TP_ASSERT_OK(tp_toml_get_bool(doc, driver, "on", &b, false));
    TP_ASSERT(b);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, driver, "on", &u32, 1));
    TP_ASSERT_STREQ(NAME ":10: driver.on: expected an integer in 0..4294967295, got a boolean", tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, driver, "pi", &u32, 1));
    TP_ASSERT_STREQ(NAME ":11: driver.pi: expected an integer in 0..4294967295, got a float", tp_errmsg());
    TP_ASSERT_OK(tp_toml_get_double(doc, driver, "ratio", &d, 0));
    TP_ASSERT(2.0 == d);
    TP_ASSERT_OK(tp_toml_get_double(doc, driver, "pi", &d, 0));
    TP_ASSERT(3.25 == d);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_double(doc, driver, "instance_id", &d, 0));
    TP_ASSERT_STREQ(NAME ":2: driver.instance_id: expected a number, got a string", tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_string(doc, driver, "name", &s, "x"));
    TP_ASSERT_STREQ(NAME ":9: driver.name: expected a string, got an integer", tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_string(doc, driver, "dirs", &s, "x"));
    TP_ASSERT_STREQ(NAME ":12: driver.dirs: expected a string, got an array", tp_errmsg());
    TP_ASSERT_OK(tp_toml_get_string(doc, NULL, "driver.instance_id", &s, "x"));
    TP_ASSERT_STREQ("d1", s);

    /* Defaults for missing keys (also below missing tables). */
    TP_ASSERT_OK(tp_toml_get_string(doc, driver, "aeron_dir", &s, "dflt"));
    TP_ASSERT_STREQ("dflt", s);
    TP_ASSERT_OK(tp_toml_get_string(doc, driver, "aeron_dir", &s, NULL));
    TP_ASSERT(NULL == s);
    TP_ASSERT_OK(tp_toml_get_u16(doc, NULL, "nope.x", &u16, 7));
    TP_ASSERT_EQ_U64(7, u16);
    TP_ASSERT_OK(tp_toml_get_u32(doc, driver, "missing", &u32, 1000));
    TP_ASSERT_EQ_U64(1000, u32);
    TP_ASSERT_OK(tp_toml_get_u64(doc, driver, "missing", &u64, 5));
    TP_ASSERT_EQ_U64(5, u64);
    TP_ASSERT_OK(tp_toml_get_i64(doc, driver, "missing", &i64, -3));
    TP_ASSERT_EQ_I64(-3, i64);
    TP_ASSERT_OK(tp_toml_get_bool(doc, driver, "missing", &b, false));
    TP_ASSERT(!b);
    TP_ASSERT_OK(tp_toml_get_double(doc, driver, "missing", &d, 0.5));
    TP_ASSERT(0.5 == d);

    /* Containers. */
    const tp_toml_value_t *arr = NULL;
    TP_ASSERT_OK(tp_toml_get_array(doc, driver, "dirs", &arr));
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(arr));
    TP_ASSERT_OK(tp_toml_get_array(doc, driver, "none", &arr));
    TP_ASSERT(NULL == arr);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_table(doc, driver, "dirs", &arr));
    TP_ASSERT_STREQ(NAME ":12: driver.dirs: expected a table, got an array", tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_array(doc, NULL, "driver", &arr));
    TP_ASSERT_STREQ(NAME ":1: driver: expected an array, got a table", tp_errmsg());

    /* Array-of-tables elements are named with their index. */
    const tp_toml_value_t *mappings = NULL;
    TP_ASSERT_OK(tp_toml_get_array(doc, NULL, "mappings", &mappings));
    TP_ASSERT_OK(tp_toml_get_u32(doc, tp_toml_array_at(mappings, 0), "dest_stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(1, u32);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, tp_toml_array_at(mappings, 1), "dest_stream_id", &u32, 0));
    TP_ASSERT_STREQ(NAME ":17: mappings[1].dest_stream_id: expected an integer in 0..4294967295, got 4294967296",
        tp_errmsg());

    /* The table argument must be a table. */
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, tp_toml_lookup(driver, "dirs"), "x", &u32, 0));
    TP_ASSERT_STREQ(NAME ":12: driver.dirs: expected a table (looking up 'x'), got an array", tp_errmsg());

    /* Loader-side semantic errors. */
    TP_ASSERT_EQ_I64(-1, tp_toml_value_error(doc, tp_toml_lookup(driver, "qos_stream_id"), "must be %s", "even"));
    TP_ASSERT_STREQ(NAME ":4: driver.qos_stream_id: must be even", tp_errmsg());
    tp_toml_free(doc);
}

static void test_toml_require_and_check_keys(void)
{
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse("top = 1\n"
                       "[driver]\n"
                       "instance_id = \"x\"\n"
                       "contrl_stream_id = 5\n"
                       "[profiles.camera]\n"
                       "payload_pools = [ { pool_id = 1, strides = 2 } ]\n",
        &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    const tp_toml_value_t *driver = tp_toml_lookup(root, "driver");
    TP_ASSERT_OK(tp_toml_require(doc, driver, "instance_id"));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_require(doc, driver, "control_stream_id"));
    TP_ASSERT_STREQ(NAME ":2: driver.control_stream_id: required key is missing", tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_require(doc, NULL, "bridge.instance_id"));
    TP_ASSERT_STREQ(NAME ":1: bridge.instance_id: required key is missing", tp_errmsg());

    const char *const driver_keys[] = { "instance_id", "control_stream_id" };
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_check_keys(doc, driver, driver_keys, 2, "driver"));
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":4: unknown key 'driver.contrl_stream_id'"));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "instance_id, control_stream_id"));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_check_keys(doc, driver, driver_keys, 2, NULL));
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":4: unknown key 'driver.contrl_stream_id'"));
    const char *const root_keys[] = { "driver", "profiles" };
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_check_keys(doc, root, root_keys, 2, NULL));
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":1: unknown key 'top'"));
    const char *const root_keys_all[] = { "top", "driver", "profiles" };
    TP_ASSERT_OK(tp_toml_check_keys(doc, root, root_keys_all, 3, NULL));
    const tp_toml_value_t *pool = tp_toml_array_at(tp_toml_lookup(root, "profiles.camera.payload_pools"), 0);
    const char *const pool_keys[] = { "pool_id", "stride_bytes" };
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_check_keys(doc, pool, pool_keys, 2, NULL));
    TP_ASSERT(starts_with(tp_errmsg(), NAME ":6: unknown key 'profiles.camera.payload_pools[0].strides'"));
    TP_ASSERT_OK(tp_toml_check_keys(doc, NULL, pool_keys, 2, NULL));
    tp_toml_free(doc);
}

/*
 * Found by fuzz_toml: tp_toml_lookup (and so every getter and
 * tp_toml_require) copied each path component into a 256-byte buffer and
 * reported a longer key as missing although the document defines it.
 */
static void test_toml_long_keys(void)
{
    char key[600];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    char text[2048];
    snprintf(text, sizeof(text), "%s = 7\n[%s]\nx = \"s\"\n[t.%s]\ny = true\n", key, key + 1, key + 2);
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse(text, &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_ASSERT(NULL != tp_toml_table_get(root, key));
    TP_ASSERT(tp_toml_lookup(root, key) == tp_toml_table_get(root, key));
    TP_ASSERT_OK(tp_toml_require(doc, NULL, key));
    uint32_t u = 0;
    TP_ASSERT_OK(tp_toml_get_u32(doc, NULL, key, &u, 1));
    TP_ASSERT_EQ_U64(7, u);
    /* A long key used as a table name and as a middle component of a dotted path. */
    char path[1300];
    snprintf(path, sizeof(path), "%s.x", key + 1);
    const char *str = NULL;
    TP_ASSERT_OK(tp_toml_get_string(doc, NULL, path, &str, "default"));
    TP_ASSERT_STREQ("s", str);
    snprintf(path, sizeof(path), "t.%s.y", key + 2);
    bool b = false;
    TP_ASSERT_OK(tp_toml_get_bool(doc, NULL, path, &b, false));
    TP_ASSERT(b);
    snprintf(path, sizeof(path), "t.%s.missing", key + 2);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_require(doc, NULL, path));
    /* A wrong type under a long key is an error, not a silent default. */
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_string(doc, NULL, key, &str, "default"));
    tp_toml_free(doc);
}

/* ------------------------------------------------------------------------ */
/* Environment overrides                                                    */
/* ------------------------------------------------------------------------ */

typedef struct fake_env_stct
{
    const char *const *pairs; /* name, value, name, value, ..., NULL */
    char asked[16][64];
    size_t n_asked;
} fake_env_t;

static const char *fake_env(void *clientd, const char *name)
{
    fake_env_t *env = clientd;
    if (env->n_asked < 16)
    {
        snprintf(env->asked[env->n_asked++], 64, "%s", name);
    }
    for (size_t i = 0; NULL != env->pairs[i]; i += 2)
    {
        if (0 == strcmp(env->pairs[i], name))
        {
            return env->pairs[i + 1];
        }
    }
    return NULL;
}

static void test_toml_env_override_name(void)
{
    char buf[64];
    TP_ASSERT_OK(tp_toml_env_override_name("driver.control_stream_id", buf, sizeof(buf)));
    TP_ASSERT_STREQ("DRIVER_CONTROL_STREAM_ID", buf);
    TP_ASSERT_OK(tp_toml_env_override_name("shm.allowed-base_dirs2", buf, sizeof(buf)));
    TP_ASSERT_STREQ("SHM_ALLOWED_BASE_DIRS2", buf);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_env_override_name("mappings[0].x", buf, sizeof(buf)));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_env_override_name("\"a b\".c", buf, sizeof(buf)));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_env_override_name("driver.control_stream_id", buf, 24));
    TP_ASSERT_OK(tp_toml_env_override_name("driver.control_stream_id", buf, 25));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_env_override_name("", buf, sizeof(buf)));
}

static void test_toml_env_overrides(void)
{
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(parse("[driver]\n"
                       "instance_id = \"file\"\n"
                       "control_stream_id = 1000\n"
                       "qos_stream_id = 1200\n"
                       "[shm]\n"
                       "require_hugepages = false\n"
                       "[[mappings]]\n"
                       "dest_stream_id = 7\n",
        &doc));
    const char *const pairs[] = { "DRIVER_INSTANCE_ID", "from-env", "DRIVER_CONTROL_STREAM_ID", "0x7d0",
        "SHM_REQUIRE_HUGEPAGES", "true", "DRIVER_ANNOUNCE_STREAM_ID", "1001", "DRIVER_QOS_STREAM_ID", "-1",
        "POLICIES_RATIO", "1.5e3", "POLICIES_BAD_BOOL", "yes", "POLICIES_EPOCH_GC_MIN_AGE_NS",
        "18446744073709551615", "POLICIES_JUNK", "12 ", NULL };
    fake_env_t env = { pairs, { { 0 } }, 0 };
    const tp_toml_value_t *driver = tp_toml_lookup(tp_toml_root(doc), "driver");
    const char *s = NULL;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    bool b = false;
    double d = 0;

    /* Without the hook the file wins. */
    TP_ASSERT_OK(tp_toml_get_string(doc, driver, "instance_id", &s, NULL));
    TP_ASSERT_STREQ("file", s);

    tp_toml_set_env(doc, fake_env, &env);
    TP_ASSERT_OK(tp_toml_get_string(doc, driver, "instance_id", &s, NULL));
    TP_ASSERT_STREQ("from-env", s);
    TP_ASSERT_STREQ("DRIVER_INSTANCE_ID", env.asked[0]);
    TP_ASSERT_OK(tp_toml_get_u32(doc, NULL, "driver.control_stream_id", &u32, 1));
    TP_ASSERT_EQ_U64(2000, u32);
    TP_ASSERT_OK(tp_toml_get_bool(doc, NULL, "shm.require_hugepages", &b, false));
    TP_ASSERT(b);
    /* Present only in the environment: used, and satisfies "required". */
    TP_ASSERT_OK(tp_toml_require(doc, driver, "announce_stream_id"));
    TP_ASSERT_OK(tp_toml_get_u32(doc, driver, "announce_stream_id", &u32, 1));
    TP_ASSERT_EQ_U64(1001, u32);
    TP_ASSERT_OK(tp_toml_get_double(doc, NULL, "policies.ratio", &d, 0));
    TP_ASSERT(1500.0 == d);
    TP_ASSERT_OK(tp_toml_get_u64(doc, NULL, "policies.epoch_gc_min_age_ns", &u64, 0));
    TP_ASSERT_EQ_U64(UINT64_MAX, u64);
    /* Bad override values name the variable and the key. */
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, driver, "qos_stream_id", &u32, 1));
    TP_ASSERT_STREQ("environment DRIVER_QOS_STREAM_ID=\"-1\": driver.qos_stream_id: expected an integer in "
                    "0..4294967295, got -1",
        tp_errmsg());
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_bool(doc, NULL, "policies.bad_bool", &b, false));
    TP_ASSERT(starts_with(tp_errmsg(), "environment POLICIES_BAD_BOOL=\"yes\": policies.bad_bool: expected a boolean"));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, NULL, "policies.junk", &u32, 1));
    TP_ASSERT(starts_with(tp_errmsg(), "environment POLICIES_JUNK=\"12 \": policies.junk: expected an integer"));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_get_u32(doc, NULL, "policies.ratio", &u32, 1));
    /* Keys below arrays have no override; no stray error is left behind. */
    size_t asked = env.n_asked;
    tp_err_clear();
    TP_ASSERT_OK(tp_toml_get_u32(doc, tp_toml_array_at(tp_toml_lookup(tp_toml_root(doc), "mappings"), 0),
        "dest_stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(7, u32);
    TP_ASSERT_EQ_U64(asked, env.n_asked);
    TP_ASSERT_EQ_I64(TP_OK, tp_errcode());
    /* Removing the hook restores file values. */
    tp_toml_set_env(doc, NULL, NULL);
    TP_ASSERT_OK(tp_toml_get_u32(doc, driver, "control_stream_id", &u32, 1));
    TP_ASSERT_EQ_U64(1000, u32);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_require(doc, driver, "announce_stream_id"));

    /* The getenv hook reads the process environment. */
    TP_ASSERT_EQ_I64(0, setenv("DRIVER_CONTROL_STREAM_ID", "4242", 1));
    tp_toml_set_env(doc, tp_toml_env_getenv, NULL);
    TP_ASSERT_OK(tp_toml_get_u32(doc, driver, "control_stream_id", &u32, 1));
    unsetenv("DRIVER_CONTROL_STREAM_ID");
    TP_ASSERT_EQ_U64(4242, u32);
    tp_toml_free(doc);
}

/* ------------------------------------------------------------------------ */
/* Example configs                                                          */
/* ------------------------------------------------------------------------ */

static const char *DRIVER_EXAMPLE =
    "# Driver configuration: every key of the Configuration Reference, section 1\n"
    "[driver]\n"
    "instance_id = \"driver-01\"\n"
    "aeron_dir = \"/dev/shm/aeron-tp\"\n"
    "control_channel = \"aeron:ipc?term-length=4m\"\n"
    "control_stream_id = 1000\n"
    "announce_channel = \"aeron:ipc?term-length=4m\"\n"
    "announce_stream_id = 1001\n"
    "qos_channel = \"aeron:ipc?term-length=4m\"\n"
    "qos_stream_id = 1200\n"
    "stream_id_range = \"20000-29999\"\n"
    "descriptor_stream_id_range = \"31000-31999\"\n"
    "control_stream_id_range = [32000, 32999]\n"
    "\n"
    "[shm]\n"
    "base_dir = \"/dev/shm\"\n"
    "namespace = \"default\"\n"
    "require_hugepages = false\n"
    "page_size_bytes = 4096\n"
    "permissions_mode = \"660\"\n"
    "allowed_base_dirs = [\"/dev/shm\", \"/tmp/tensorpool\"]\n"
    "\n"
    "[policies]\n"
    "allow_dynamic_streams = false\n"
    "default_profile = \"camera\"\n"
    "announce_period_ms = 1000\n"
    "lease_keepalive_interval_ms = 1000\n"
    "lease_expiry_grace_intervals = 3\n"
    "prefault_shm = true\n"
    "reuse_existing_shm = false\n"
    "mlock_shm = false\n"
    "cleanup_shm_on_exit = false\n"
    "epoch_gc_enabled = true\n"
    "epoch_gc_keep = 2\n"
    "epoch_gc_min_age_ns = 3_000_000_000\n"
    "epoch_gc_on_startup = false\n"
    "shutdown_timeout_ms = 2000\n"
    "shutdown_token = \"\"\n"
    "\n"
    "[profiles.camera]\n"
    "header_nslots = 256\n"
    "payload_pools = [\n"
    "  { pool_id = 1, stride_bytes = 65536 },\n"
    "  { pool_id = 2, stride_bytes = 262144 },\n"
    "  { pool_id = 3, stride_bytes = 1048576 },\n"
    "  { pool_id = 4, stride_bytes = 4194304 }\n"
    "]\n"
    "\n"
    "[profiles.small]\n"
    "header_nslots = 1024\n"
    "payload_pools = [{ pool_id = 1, stride_bytes = 4096 }]\n"
    "\n"
    "[streams.cam1]\n"
    "stream_id = 10000\n"
    "profile = \"camera\"\n"
    "\n"
    "[streams.cam2]\n"
    "stream_id = 10001\n"
    "profile = \"small\"\n";

static const char *BRIDGE_EXAMPLE =
    "# Bridge configuration: every key of the bridge spec section 10\n"
    "[bridge]\n"
    "instance_id = \"bridge-01\"\n"
    "payload_channel = \"aeron:udp?endpoint=10.0.0.2:40123|mtu=8k\"\n"
    "payload_stream_id = 5000\n"
    "control_channel = \"aeron:udp?endpoint=10.0.0.2:40124\"\n"
    "control_stream_id = 5001\n"
    "mtu_bytes = 8192\n"
    "chunk_bytes = 8064\n"
    "max_chunk_bytes = 65535\n"
    "max_payload_bytes = 1073741824\n"
    "integrity_crc32c = true\n"
    "dest_stream_id_range = \"40000-40999\"\n"
    "forward_metadata = true\n"
    "forward_tracelink = false\n"
    "metadata_channel = \"aeron:udp?endpoint=10.0.0.2:40125\"\n"
    "metadata_stream_id = 5002\n"
    "source_metadata_stream_id = 1300\n"
    "forward_qos = false\n"
    "forward_progress = true\n"
    "assembly_timeout_ms = 250\n"
    "\n"
    "[[mappings]]\n"
    "source_stream_id = 10000\n"
    "dest_stream_id = 20000\n"
    "profile = \"camera\"\n"
    "metadata_stream_id = 20100\n"
    "\n"
    "[[mappings]]\n"
    "source_stream_id = 10001\n"
    "dest_stream_id = 0\n"
    "profile = \"camera\"\n"
    "source_control_stream_id = 1000\n"
    "dest_control_stream_id = 1000\n";

static void test_toml_example_driver_config(void)
{
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(tp_toml_parse_string(DRIVER_EXAMPLE, strlen(DRIVER_EXAMPLE), "driver.toml", &doc));
    const tp_toml_value_t *root = tp_toml_root(doc);
    const char *s = NULL;
    uint32_t u32 = 0;
    uint16_t u16 = 0;
    uint64_t u64 = 0;
    bool b = true;
    const tp_toml_value_t *t = NULL;

    const char *const top[] = { "driver", "shm", "policies", "profiles", "streams" };
    TP_ASSERT_OK(tp_toml_check_keys(doc, root, top, 5, NULL));
    TP_ASSERT_OK(tp_toml_get_table(doc, NULL, "driver", &t));
    TP_ASSERT_OK(tp_toml_get_string(doc, t, "instance_id", &s, "driver-01"));
    TP_ASSERT_STREQ("driver-01", s);
    TP_ASSERT_OK(tp_toml_get_u32(doc, t, "control_stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(1000, u32);
    TP_ASSERT_OK(tp_toml_get_u32(doc, t, "announce_stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(1001, u32);
    TP_ASSERT_OK(tp_toml_get_string(doc, t, "stream_id_range", &s, ""));
    TP_ASSERT_STREQ("20000-29999", s);
    const tp_toml_value_t *range = tp_toml_lookup(t, "control_stream_id_range");
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(range));
    TP_ASSERT_OK(tp_toml_get_bool(doc, NULL, "shm.require_hugepages", &b, true));
    TP_ASSERT(!b);
    TP_ASSERT_OK(tp_toml_get_string(doc, NULL, "shm.permissions_mode", &s, ""));
    TP_ASSERT_STREQ("660", s);
    TP_ASSERT_STREQ("/tmp/tensorpool", tp_toml_string(tp_toml_array_at(tp_toml_lookup(root, "shm.allowed_base_dirs"), 1)));
    TP_ASSERT_OK(tp_toml_get_u64(doc, NULL, "policies.epoch_gc_min_age_ns", &u64, 0));
    TP_ASSERT_EQ_U64(3000000000ull, u64);
    TP_ASSERT_OK(tp_toml_get_string(doc, NULL, "policies.shutdown_token", &s, "x"));
    TP_ASSERT_STREQ("", s);

    const tp_toml_value_t *profiles = tp_toml_lookup(root, "profiles");
    TP_ASSERT_EQ_U64(2, tp_toml_table_size(profiles));
    TP_ASSERT_STREQ("camera", tp_toml_table_key(profiles, 0));
    TP_ASSERT_STREQ("small", tp_toml_table_key(profiles, 1));
    const tp_toml_value_t *camera = tp_toml_table_value(profiles, 0);
    TP_ASSERT_OK(tp_toml_get_u32(doc, camera, "header_nslots", &u32, 1024));
    TP_ASSERT_EQ_U64(256, u32);
    const tp_toml_value_t *pools = NULL;
    TP_ASSERT_OK(tp_toml_get_array(doc, camera, "payload_pools", &pools));
    TP_ASSERT_EQ_U64(4, tp_toml_array_size(pools));
    const uint32_t strides[] = { 65536, 262144, 1048576, 4194304 };
    for (size_t i = 0; i < 4; i++)
    {
        const tp_toml_value_t *pool = tp_toml_array_at(pools, i);
        const char *const pool_keys[] = { "pool_id", "stride_bytes" };
        TP_ASSERT_OK(tp_toml_check_keys(doc, pool, pool_keys, 2, NULL));
        TP_ASSERT_OK(tp_toml_get_u16(doc, pool, "pool_id", &u16, 0));
        TP_ASSERT_EQ_U64(i + 1, u16);
        TP_ASSERT_OK(tp_toml_get_u32(doc, pool, "stride_bytes", &u32, 0));
        TP_ASSERT_EQ_U64(strides[i], u32);
        TP_ASSERT_EQ_U64(43 + i, tp_toml_value_line(pool));
    }
    const tp_toml_value_t *streams = tp_toml_lookup(root, "streams");
    TP_ASSERT_EQ_U64(2, tp_toml_table_size(streams));
    TP_ASSERT_OK(tp_toml_get_u32(doc, tp_toml_table_value(streams, 1), "stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(10001, u32);
    TP_ASSERT_OK(tp_toml_get_string(doc, tp_toml_table_value(streams, 1), "profile", &s, NULL));
    TP_ASSERT_STREQ("small", s);
    tp_toml_free(doc);

    /* The snippets of the Configuration Reference, verbatim. */
    const char *snippet1 = "[driver]\ndescriptor_stream_id_range = \"31000-31999\"\n";
    TP_ASSERT_OK(parse(snippet1, &doc));
    TP_ASSERT_STREQ("31000-31999", tp_toml_string(tp_toml_lookup(tp_toml_root(doc), "driver.descriptor_stream_id_range")));
    tp_toml_free(doc);
    const char *snippet2 =
        "[profiles.camera]\n"
        "header_nslots = 256\n"
        "payload_pools = [\n"
        "  { pool_id = 1, stride_bytes = 65536 },\n"
        "  { pool_id = 2, stride_bytes = 262144 },\n"
        "  { pool_id = 3, stride_bytes = 1048576 },\n"
        "  { pool_id = 4, stride_bytes = 4194304 }\n"
        "]\n";
    TP_ASSERT_OK(parse(snippet2, &doc));
    TP_ASSERT_EQ_U64(4, tp_toml_array_size(tp_toml_lookup(tp_toml_root(doc), "profiles.camera.payload_pools")));
    tp_toml_free(doc);
}

static void test_toml_example_bridge_config(void)
{
    tp_toml_t *doc = NULL;
    TP_ASSERT_OK(tp_toml_parse_string(BRIDGE_EXAMPLE, strlen(BRIDGE_EXAMPLE), "bridge.toml", &doc));
    const tp_toml_value_t *bridge = NULL;
    const char *s = NULL;
    uint32_t u32 = 0;
    bool b = false;
    TP_ASSERT_OK(tp_toml_get_table(doc, NULL, "bridge", &bridge));
    TP_ASSERT_OK(tp_toml_require(doc, bridge, "payload_channel"));
    TP_ASSERT_OK(tp_toml_get_string(doc, bridge, "payload_channel", &s, NULL));
    TP_ASSERT_STREQ("aeron:udp?endpoint=10.0.0.2:40123|mtu=8k", s);
    TP_ASSERT_OK(tp_toml_get_u32(doc, bridge, "max_payload_bytes", &u32, 0));
    TP_ASSERT_EQ_U64(1073741824u, u32);
    TP_ASSERT_OK(tp_toml_get_bool(doc, bridge, "integrity_crc32c", &b, false));
    TP_ASSERT(b);
    TP_ASSERT_OK(tp_toml_get_u32(doc, bridge, "assembly_timeout_ms", &u32, 0));
    TP_ASSERT_EQ_U64(250, u32);
    const tp_toml_value_t *mappings = NULL;
    TP_ASSERT_OK(tp_toml_get_array(doc, NULL, "mappings", &mappings));
    TP_ASSERT_EQ_U64(2, tp_toml_array_size(mappings));
    const tp_toml_value_t *m1 = tp_toml_array_at(mappings, 1);
    TP_ASSERT_OK(tp_toml_get_u32(doc, m1, "dest_stream_id", &u32, 99));
    TP_ASSERT_EQ_U64(0, u32);
    TP_ASSERT_OK(tp_toml_get_u32(doc, m1, "dest_control_stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(1000, u32);
    TP_ASSERT_OK(tp_toml_get_u32(doc, tp_toml_array_at(mappings, 0), "dest_control_stream_id", &u32, 0));
    TP_ASSERT_EQ_U64(0, u32);
    TP_ASSERT_EQ_U64(29, tp_toml_value_line(m1));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_toml_require(doc, tp_toml_array_at(mappings, 0), "source_control_stream_id"));
    TP_ASSERT_STREQ("bridge.toml:23: mappings[0].source_control_stream_id: required key is missing", tp_errmsg());
    tp_toml_free(doc);
}

static void test_toml_parse_file(void)
{
    char path[] = "/tmp/tp_toml_test_XXXXXX";
    int fd = mkstemp(path);
    TP_ASSERT(fd >= 0);
    size_t len = strlen(BRIDGE_EXAMPLE);
    bool wrote = (ssize_t)len == write(fd, BRIDGE_EXAMPLE, len);
    close(fd);
    tp_toml_t *doc = NULL;
    int rc = tp_toml_parse_file(path, &doc);
    char name[64];
    snprintf(name, sizeof(name), "%s", 0 == rc ? tp_toml_name(doc) : "");
    size_t n = 0 == rc ? tp_toml_array_size(tp_toml_lookup(tp_toml_root(doc), "mappings")) : 0;
    tp_toml_free(doc);

    /* An invalid file names itself in the message. */
    FILE *f = fopen(path, "w");
    bool wrote2 = NULL != f && fputs("[bridge]\nx = 1\nx = 2\n", f) >= 0;
    if (NULL != f)
    {
        fclose(f);
    }
    doc = NULL;
    int rc2 = tp_toml_parse_file(path, &doc);
    char msg2[TP_ERRMSG_MAX];
    snprintf(msg2, sizeof(msg2), "%s", tp_errmsg());

    /* Oversized file. */
    f = fopen(path, "w");
    bool wrote3 = NULL != f;
    for (size_t total = 0; wrote3 && total <= TP_TOML_MAX_BYTES; total += strlen("# padding padding padding pad\n"))
    {
        wrote3 = fputs("# padding padding padding pad\n", f) >= 0;
    }
    if (NULL != f)
    {
        fclose(f);
    }
    int rc3 = tp_toml_parse_file(path, &doc);
    int code3 = tp_errcode();
    char msg3[TP_ERRMSG_MAX];
    snprintf(msg3, sizeof(msg3), "%s", tp_errmsg());
    unlink(path);

    TP_ASSERT(wrote && wrote2 && wrote3);
    TP_ASSERT_EQ_I64(0, rc);
    TP_ASSERT_STREQ(path, name);
    TP_ASSERT_EQ_U64(2, n);
    TP_ASSERT_EQ_I64(-1, rc2);
    char expect[128];
    snprintf(expect, sizeof(expect), "%s:3:1: duplicate key 'bridge.x'", path);
    TP_ASSERT_MSG(starts_with(msg2, expect), "got '%s'", msg2);
    TP_ASSERT_EQ_I64(-1, rc3);
    TP_ASSERT_EQ_I64(TP_ERR_CONFIG, code3);
    TP_ASSERT(NULL != strstr(msg3, "too large"));
    TP_ASSERT_ERR(TP_ERR_NOT_FOUND, tp_toml_parse_file("/nonexistent/dir/driver.toml", &doc));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "/nonexistent/dir/driver.toml"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_toml_parse_file(NULL, &doc));
}

/* ------------------------------------------------------------------------ */
/* Mutation "fuzz"                                                          */
/* ------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Touch every value of a parsed tree; returns the number of values. */
static size_t walk(const tp_toml_value_t *v, int depth)
{
    char path[64];
    tp_toml_value_path(v, path, sizeof(path));
    size_t count = 1;
    if (depth > 2000)
    {
        return count;
    }
    switch (tp_toml_type(v))
    {
        case TP_TOML_TABLE:
            for (size_t i = 0; i < tp_toml_table_size(v); i++)
            {
                if (NULL == tp_toml_table_key(v, i) || tp_toml_table_get(v, tp_toml_table_key(v, i)) !=
                    tp_toml_table_value(v, i))
                {
                    return 0;
                }
                count += walk(tp_toml_table_value(v, i), depth + 1);
            }
            break;
        case TP_TOML_ARRAY:
            for (size_t i = 0; i < tp_toml_array_size(v); i++)
            {
                count += walk(tp_toml_array_at(v, i), depth + 1);
            }
            break;
        case TP_TOML_STRING:
            if (strlen(tp_toml_string(v)) != tp_toml_string_len(v))
            {
                return 0;
            }
            break;
        default:
            (void)tp_toml_double(v);
            break;
    }
    return count;
}

/* Parse a mutated input: must return 0 (tree walkable) or -1 with a located TP_ERR_CONFIG. */
static int check_mutant(const char *text, size_t len, size_t *ok_count)
{
    tp_toml_t *doc = NULL;
    tp_err_clear();
    int rc = tp_toml_parse_string(text, len, "fuzz.toml", &doc);
    if (0 == rc)
    {
        size_t n = walk(tp_toml_root(doc), 0);
        tp_toml_free(doc);
        (*ok_count)++;
        return n > 0 ? 0 : -1;
    }
    if (-1 != rc || NULL != doc || TP_ERR_CONFIG != tp_errcode() || !starts_with(tp_errmsg(), "fuzz.toml:"))
    {
        return -1;
    }
    return 0;
}

static void test_toml_fuzz_mutations(void)
{
    static const char *const junk[] = { "[", "]", "\"", "'", "'''", "\"\"\"", "{", "}", "=", ",", ".", "\n", "\\",
        "\\u", "\\U0010FFFF", "#", "0x", "1e", "[[", "]]", "\xff", "\xc3", "\r", "\r\n", " = ", "a.b", "[a]\n",
        "[[mappings]]\n", "{ x = [", "\t", "\x01", "-", "+", "_", "inf", "nan", "9223372036854775808",
        "99999999999999999999", "\0" };
    const char *bases[] = { DRIVER_EXAMPLE, BRIDGE_EXAMPLE, GETTER_DOC };
    /* TP_TOML_FUZZ_ROUNDS=N runs N times more random mutants (for manual soak runs). */
    const char *rounds_env = getenv("TP_TOML_FUZZ_ROUNDS");
    size_t rounds = NULL == rounds_env ? 1 : (size_t)strtoul(rounds_env, NULL, 10);
    rounds = 0 == rounds ? 1 : rounds;
    size_t mutants = 0;
    size_t ok = 0;
    char *buf = malloc(8192);
    TP_ASSERT(NULL != buf);
    for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++)
    {
        const char *base = bases[bi];
        size_t len = strlen(base);
        TP_ASSERT(len + 64 < 8192);
        /* Truncation at every byte. */
        for (size_t cut = 0; cut <= len; cut++)
        {
            memcpy(buf, base, cut);
            if (0 != check_mutant(buf, cut, &ok))
            {
                free(buf);
                TP_ASSERT_MSG(false, "truncation at %zu of base %zu: %s", cut, bi, tp_errmsg());
            }
            mutants++;
        }
        /* Random byte flips (1-3 per mutant). */
        for (size_t i = 0; i < 1000 * rounds; i++)
        {
            memcpy(buf, base, len);
            size_t flips = 1 + rng() % 3;
            for (size_t k = 0; k < flips; k++)
            {
                buf[rng() % len] = (char)(rng() & 0xff);
            }
            if (0 != check_mutant(buf, len, &ok))
            {
                free(buf);
                TP_ASSERT_MSG(false, "flip mutant %zu of base %zu: %s", i, bi, tp_errmsg());
            }
            mutants++;
        }
        /* Junk insertions. */
        for (size_t i = 0; i < 600 * rounds; i++)
        {
            size_t at = rng() % (len + 1);
            const char *j = junk[rng() % (sizeof(junk) / sizeof(junk[0]))];
            size_t jl = '\0' == j[0] ? 1 : strlen(j);
            memcpy(buf, base, at);
            memcpy(buf + at, j, jl);
            memcpy(buf + at + jl, base + at, len - at);
            if (0 != check_mutant(buf, len + jl, &ok))
            {
                free(buf);
                TP_ASSERT_MSG(false, "insert mutant %zu of base %zu: %s", i, bi, tp_errmsg());
            }
            mutants++;
        }
    }
    free(buf);
    fprintf(stderr, "  %zu mutants, %zu parsed, %zu rejected\n", mutants, ok, mutants - ok);
    TP_ASSERT(mutants > 3000);
    TP_ASSERT(ok > 0 && ok < mutants);
}

int main(void)
{
    TP_RUN(test_toml_scalars_and_lines);
    TP_RUN(test_toml_strings);
    TP_RUN(test_toml_integers);
    TP_RUN(test_toml_floats);
    TP_RUN(test_toml_tables_and_keys);
    TP_RUN(test_toml_arrays_and_inline_tables);
    TP_RUN(test_toml_array_of_tables);
    TP_RUN(test_toml_syntax_errors);
    TP_RUN(test_toml_semantic_errors);
    TP_RUN(test_toml_semantic_error_partial_case);
    TP_RUN(test_toml_input_validation);
    TP_RUN(test_toml_depth_limits);
    TP_RUN(test_toml_large_table);
    TP_RUN(test_toml_getters);
    TP_RUN(test_toml_require_and_check_keys);
    TP_RUN(test_toml_long_keys);
    TP_RUN(test_toml_env_override_name);
    TP_RUN(test_toml_env_overrides);
    TP_RUN(test_toml_example_driver_config);
    TP_RUN(test_toml_example_bridge_config);
    TP_RUN(test_toml_parse_file);
    TP_RUN(test_toml_fuzz_mutations);
    return tp_test_finish();
}

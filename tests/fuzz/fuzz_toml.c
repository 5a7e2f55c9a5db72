/*
 * Fuzz target: the TOML reader (src/common/tp_toml.h).
 *
 * tp_toml_parse_string on the raw input; on success the whole tree is walked:
 * every table key found again by tp_toml_table_get, every string's length
 * equal to its strlen (strings never hold NUL), integer accessors consistent,
 * value paths formatted into exact and truncating buffers, environment
 * override names derived, and every typed getter, tp_toml_require and
 * tp_toml_check_keys called on every key, half of them with an environment
 * hook that returns hostile override values. A failed parse must carry a
 * TP_ERR_CONFIG message.
 */
#include "tp_fuzz.h"

#include <math.h>

#include "common/tp_toml.h"

static const char *const env_values[] = { "1", "-1", "0x7d0", "true", "false", "0", "1e999", "nan", "abc", "",
    "18446744073709551615", "18446744073709551616", "-9223372036854775808", "1_000", "0b101", "inf", " 1" };

static const char *fuzz_env(void *clientd, const char *name)
{
    (void)clientd;
    size_t h = strlen(name);
    for (const char *p = name; *p; p++)
    {
        h = h * 31u + (unsigned char)*p;
    }
    return 0 == h % 3u ? NULL : env_values[h % (sizeof(env_values) / sizeof(env_values[0]))];
}

static void check_value(tp_toml_t *doc, const tp_toml_value_t *v, unsigned depth);

static void check_getters(tp_toml_t *doc, const tp_toml_value_t *table, const char *key)
{
    const char *s = NULL;
    bool b = false;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    double d = 0;
    const tp_toml_value_t *t = NULL;
    if (0 == tp_toml_get_string(doc, table, key, &s, "dflt"))
    {
        TP_FUZZ_CHECK(NULL != s);
    }
    (void)tp_toml_get_bool(doc, table, key, &b, true);
    (void)tp_toml_get_u16(doc, table, key, &u16, 7);
    (void)tp_toml_get_u32(doc, table, key, &u32, 7);
    (void)tp_toml_get_u64(doc, table, key, &u64, 7);
    (void)tp_toml_get_i64(doc, table, key, &i64, -7);
    (void)tp_toml_get_double(doc, table, key, &d, 0.5);
    if (0 == tp_toml_get_table(doc, table, key, &t) && NULL != t)
    {
        TP_FUZZ_CHECK(TP_TOML_TABLE == tp_toml_type(t));
    }
    if (0 == tp_toml_get_array(doc, table, key, &t) && NULL != t)
    {
        TP_FUZZ_CHECK(TP_TOML_ARRAY == tp_toml_type(t));
    }
    (void)tp_toml_require(doc, table, key);
    const tp_toml_value_t *found = tp_toml_lookup(table, key);
    if (NULL == strchr(key, '.'))
    {
        TP_FUZZ_CHECK(found == tp_toml_table_get(table, key));
    }
}

static void check_table(tp_toml_t *doc, const tp_toml_value_t *table, unsigned depth)
{
    size_t n = tp_toml_table_size(table);
    for (size_t i = 0; i < n; i++)
    {
        const char *key = tp_toml_table_key(table, i);
        const tp_toml_value_t *v = tp_toml_table_value(table, i);
        TP_FUZZ_CHECK(NULL != key && NULL != v);
        TP_FUZZ_CHECK(tp_toml_table_get(table, key) == v);
        check_getters(doc, table, key);
        check_value(doc, v, depth + 1);
    }
    TP_FUZZ_CHECK(NULL == tp_toml_table_key(table, n) && NULL == tp_toml_table_value(table, n));
    static const char *const allowed[] = { "driver", "shm", "profiles", "streams", "policies", "a" };
    if (tp_toml_check_keys(doc, table, allowed, sizeof(allowed) / sizeof(allowed[0]), NULL) < 0)
    {
        TP_FUZZ_CHECK(TP_ERR_CONFIG == tp_errcode());
    }
}

static void check_value(tp_toml_t *doc, const tp_toml_value_t *v, unsigned depth)
{
    TP_FUZZ_CHECK(depth < 4096);
    tp_toml_type_t type = tp_toml_type(v);
    TP_FUZZ_CHECK(0 != strcmp("unknown", tp_toml_type_name(type)));
    (void)tp_toml_value_line(v);

    static char path[8192];
    size_t plen = tp_toml_value_path(v, path, sizeof(path));
    if (plen < sizeof(path))
    {
        TP_FUZZ_CHECK(strlen(path) == plen);
        char small[5];
        TP_FUZZ_CHECK(tp_toml_value_path(v, small, sizeof(small)) == plen);
        TP_FUZZ_CHECK(strlen(small) == (plen < sizeof(small) ? plen : sizeof(small) - 1));
        char name[8192];
        if (0 == tp_toml_env_override_name(path, name, sizeof(name)))
        {
            TP_FUZZ_CHECK(strlen(name) == plen);
        }
    }

    switch (type)
    {
        case TP_TOML_TABLE:
            check_table(doc, v, depth);
            break;
        case TP_TOML_ARRAY:
        {
            size_t n = tp_toml_array_size(v);
            for (size_t i = 0; i < n; i++)
            {
                const tp_toml_value_t *e = tp_toml_array_at(v, i);
                TP_FUZZ_CHECK(NULL != e);
                check_value(doc, e, depth + 1);
            }
            TP_FUZZ_CHECK(NULL == tp_toml_array_at(v, n));
            break;
        }
        case TP_TOML_STRING:
            TP_FUZZ_CHECK(NULL != tp_toml_string(v) && strlen(tp_toml_string(v)) == tp_toml_string_len(v));
            break;
        case TP_TOML_INTEGER:
        {
            int64_t i = 0;
            uint64_t u = 0;
            int ri = tp_toml_integer_i64(v, &i);
            int ru = tp_toml_integer_u64(v, &u);
            TP_FUZZ_CHECK(0 == ri || 0 == ru);
            if (0 == ri && 0 == ru)
            {
                TP_FUZZ_CHECK(i >= 0 && (uint64_t)i == u);
            }
            (void)tp_toml_double(v);
            break;
        }
        case TP_TOML_FLOAT:
            (void)isnan(tp_toml_double(v));
            break;
        case TP_TOML_BOOL:
            (void)tp_toml_bool(v);
            break;
        default:
            TP_FUZZ_CHECK(!"unknown value type");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_toml_t *doc = NULL;
    if (tp_toml_parse_string((const char *)data, size, "fuzz.toml", &doc) < 0)
    {
        TP_FUZZ_CHECK_ERROR();
        TP_FUZZ_CHECK(NULL == doc);
        return 0;
    }
    TP_FUZZ_CHECK(NULL != doc);
    const tp_toml_value_t *root = tp_toml_root(doc);
    TP_FUZZ_CHECK(NULL != root && TP_TOML_TABLE == tp_toml_type(root));
    TP_FUZZ_CHECK(0 == strcmp("fuzz.toml", tp_toml_name(doc)));
    if (size > 0 && (data[size - 1] & 1u))
    {
        tp_toml_set_env(doc, fuzz_env, NULL);
    }
    check_value(doc, root, 0);
    tp_toml_free(doc);
    return 0;
}

/*
 * Fuzz target: region URIs (tp_shm_uri_parse / tp_shm_uri_format) and Aeron
 * channel URIs (tp_uri_parse and the typed parameter getters).
 *
 * The input, NUL-terminated, goes to both parsers. Invariants: a failure sets
 * an error; a parsed region URI has an absolute path of at most
 * TP_SHM_PATH_MAX bytes, formats back and re-parses to the same value; a
 * parsed channel URI has at most TP_URI_MAX_PARAMS non-empty, terminated keys,
 * each found again by tp_uri_get. Host name resolution
 * (tp_uri_resolve_endpoint) is not fuzzed: it would query the resolver.
 */
#include "tp_fuzz.h"

#include "common/tp_uri.h"
#include "tensor_pool/tp_shm.h"

static void fuzz_region_uri(const char *s)
{
    tp_shm_uri_t u;
    if (tp_shm_uri_parse(s, &u) < 0)
    {
        TP_FUZZ_CHECK_ERROR();
        TP_FUZZ_CHECK(TP_ERR_MALFORMED == tp_errcode() || TP_ERR_UNSUPPORTED == tp_errcode());
        return;
    }
    size_t n = strnlen(u.path, sizeof(u.path));
    TP_FUZZ_CHECK(n < sizeof(u.path) && n >= 1 && n <= TP_SHM_PATH_MAX);
    TP_FUZZ_CHECK('/' == u.path[0]);
    static char buf[TP_SHM_PATH_MAX + 128];
    TP_FUZZ_CHECK(0 == tp_shm_uri_format(u.path, u.require_hugepages, buf, sizeof(buf)));
    tp_shm_uri_t again;
    TP_FUZZ_CHECK(0 == tp_shm_uri_parse(buf, &again));
    TP_FUZZ_CHECK(0 == strcmp(u.path, again.path) && u.require_hugepages == again.require_hugepages);
    /* A buffer one byte short of the formatted URI must be refused, not overrun. */
    size_t flen = strlen(buf);
    char *exact = malloc(flen);
    TP_FUZZ_CHECK(NULL != exact);
    TP_FUZZ_CHECK(tp_shm_uri_format(u.path, u.require_hugepages, exact, flen) < 0);
    free(exact);
}

static void fuzz_channel_uri(const char *s)
{
    tp_uri_t u;
    if (tp_uri_parse(s, &u) < 0)
    {
        TP_FUZZ_CHECK_ERROR();
        return;
    }
    TP_FUZZ_CHECK(TP_URI_MEDIA_IPC == u.media || TP_URI_MEDIA_UDP == u.media);
    TP_FUZZ_CHECK(u.param_count <= TP_URI_MAX_PARAMS);
    for (size_t i = 0; i < u.param_count; i++)
    {
        const char *key = u.params[i].key;
        TP_FUZZ_CHECK(memchr(key, '\0', TP_URI_MAX_KEY) != NULL && key[0] != '\0');
        TP_FUZZ_CHECK(memchr(u.params[i].value, '\0', TP_URI_MAX_VALUE) != NULL);
        const char *v = tp_uri_get(&u, key);
        TP_FUZZ_CHECK(v == u.params[i].value);

        uint64_t size_value = 0;
        if (0 == tp_uri_get_size(&u, key, 0, 0, UINT64_MAX, false, &size_value))
        {
            uint64_t p2 = 0;
            if (0 == tp_uri_get_size(&u, key, 0, 0, UINT64_MAX, true, &p2))
            {
                TP_FUZZ_CHECK(p2 == size_value && 0 == (p2 & (p2 - 1)));
            }
            uint64_t ranged = 0;
            if (0 == tp_uri_get_size(&u, key, 0, 4096, 1u << 20, false, &ranged))
            {
                TP_FUZZ_CHECK(ranged >= 4096 && ranged <= (1u << 20));
            }
        }
        else
        {
            TP_FUZZ_CHECK_ERROR();
        }
        int64_t iv = 0;
        if (0 == tp_uri_get_int(&u, key, 0, -5, 70000, &iv))
        {
            TP_FUZZ_CHECK(iv >= -5 && iv <= 70000);
        }
        int64_t full = 0;
        (void)tp_uri_get_int(&u, key, 0, INT64_MIN, INT64_MAX, &full);
        bool b = false;
        (void)tp_uri_get_bool(&u, key, false, &b);
    }
    TP_FUZZ_CHECK(NULL == tp_uri_get(&u, "no-such-key"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = tp_fuzz_cstr(data, size);
    fuzz_region_uri(s);
    fuzz_channel_uri(s);
    free(s);
    return 0;
}

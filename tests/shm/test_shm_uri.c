/* shm:file URI grammar (wire §15.22). */
#include "tp_test.h"

#include "tensor_pool/tp_shm.h"

static void test_shm_uri_valid(void)
{
    tp_shm_uri_t u;
    TP_ASSERT_OK(tp_shm_uri_parse("shm:file?path=/dev/shm/tensorpool-a/default/1/2/header.ring", &u));
    TP_ASSERT_STREQ("/dev/shm/tensorpool-a/default/1/2/header.ring", u.path);
    TP_ASSERT(!u.require_hugepages);
    TP_ASSERT_OK(tp_shm_uri_parse("shm:file?path=/dev/hugepages/x|require_hugepages=true", &u));
    TP_ASSERT_STREQ("/dev/hugepages/x", u.path);
    TP_ASSERT(u.require_hugepages);
    TP_ASSERT_OK(tp_shm_uri_parse("shm:file?path=/a|require_hugepages=false", &u));
    TP_ASSERT(!u.require_hugepages);
    /* Order of parameters is not significant. */
    TP_ASSERT_OK(tp_shm_uri_parse("shm:file?require_hugepages=true|path=/b", &u));
    TP_ASSERT_STREQ("/b", u.path);
    TP_ASSERT(u.require_hugepages);
    /* Every VCHAR except ? and | is allowed in a path. */
    TP_ASSERT_OK(tp_shm_uri_parse("shm:file?path=/a~b!c#d$e%f&g=h;i,j+k:l@m[n]o{p}q\"r'", &u));
}

static void test_shm_uri_unknown_scheme(void)
{
    tp_shm_uri_t u;
    TP_ASSERT_ERR(TP_ERR_UNSUPPORTED, tp_shm_uri_parse("aeron:ipc?path=/a", &u));
    TP_ASSERT_ERR(TP_ERR_UNSUPPORTED, tp_shm_uri_parse("shm:posix?path=/a", &u));
    TP_ASSERT_ERR(TP_ERR_UNSUPPORTED, tp_shm_uri_parse("file:///a", &u));
    TP_ASSERT_ERR(TP_ERR_UNSUPPORTED, tp_shm_uri_parse("SHM:file?path=/a", &u));
    TP_ASSERT_ERR(TP_ERR_UNSUPPORTED, tp_shm_uri_parse("", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file", &u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "path"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_uri_parse(NULL, &u));
}

static void test_shm_uri_params(void)
{
    tp_shm_uri_t u;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a|mode=660", &u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "unknown parameter 'mode'"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a|path=/b", &u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "duplicate"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED,
        tp_shm_uri_parse("shm:file?path=/a|require_hugepages=true|require_hugepages=true", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?require_hugepages=true", &u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "missing"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a|", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a||require_hugepages=true", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?=x|path=/a", &u));
    /* '&' is not a separator: it becomes part of the path value... */
    TP_ASSERT_OK(tp_shm_uri_parse("shm:file?path=/a&require_hugepages=true", &u));
    TP_ASSERT(!u.require_hugepages);
}

static void test_shm_uri_bad_bool(void)
{
    tp_shm_uri_t u;
    const char *bad[] = { "TRUE", "1", "yes", "", "true ", "False", "truex" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        char uri[128];
        snprintf(uri, sizeof(uri), "shm:file?path=/a|require_hugepages=%s", bad[i]);
        TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse(uri, &u));
    }
}

static void test_shm_uri_path_rules(void)
{
    tp_shm_uri_t u;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=relative/x", &u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "not absolute"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=./x", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a b", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a?b", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a\tb", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a\x7f", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a\xc3\xa9", &u));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse("shm:file?path=/a\n", &u));
}

static void test_shm_uri_long_path(void)
{
    tp_shm_uri_t u;
    static char uri[TP_SHM_PATH_MAX + 64];
    strcpy(uri, "shm:file?path=/");
    size_t base = strlen(uri);
    /* Exactly TP_SHM_PATH_MAX bytes of path: accepted. */
    memset(uri + base, 'a', TP_SHM_PATH_MAX - 1);
    uri[base + TP_SHM_PATH_MAX - 1] = '\0';
    TP_ASSERT_OK(tp_shm_uri_parse(uri, &u));
    TP_ASSERT_EQ_U64(TP_SHM_PATH_MAX, strlen(u.path));
    /* One more: rejected. */
    uri[base + TP_SHM_PATH_MAX - 1] = 'a';
    uri[base + TP_SHM_PATH_MAX] = '\0';
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_uri_parse(uri, &u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "limit"));
}

static void test_shm_uri_format_roundtrip(void)
{
    char buf[256];
    tp_shm_uri_t u;
    TP_ASSERT_OK(tp_shm_uri_format("/dev/shm/x/header.ring", true, buf, sizeof(buf)));
    TP_ASSERT_STREQ("shm:file?path=/dev/shm/x/header.ring|require_hugepages=true", buf);
    TP_ASSERT_OK(tp_shm_uri_parse(buf, &u));
    TP_ASSERT_STREQ("/dev/shm/x/header.ring", u.path);
    TP_ASSERT(u.require_hugepages);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_uri_format("rel", false, buf, sizeof(buf)));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_uri_format("/a|b", false, buf, sizeof(buf)));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_uri_format("/abc", false, buf, 10));
}

int main(void)
{
    TP_RUN(test_shm_uri_valid);
    TP_RUN(test_shm_uri_unknown_scheme);
    TP_RUN(test_shm_uri_params);
    TP_RUN(test_shm_uri_bad_bool);
    TP_RUN(test_shm_uri_path_rules);
    TP_RUN(test_shm_uri_long_path);
    TP_RUN(test_shm_uri_format_roundtrip);
    return tp_test_finish();
}

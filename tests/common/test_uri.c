#include "tp_test.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include "common/tp_uri.h"

static void test_uri_ipc(void)
{
    tp_uri_t uri;
    TP_ASSERT_OK(tp_uri_parse("aeron:ipc", &uri));
    TP_ASSERT_EQ_I64(TP_URI_MEDIA_IPC, uri.media);
    TP_ASSERT_EQ_U64(0, uri.param_count);
    TP_ASSERT_OK(tp_uri_parse("aeron:ipc?term-length=64k|tether=false|alias=x", &uri));
    TP_ASSERT_EQ_U64(3, uri.param_count);
    uint64_t tl = 0;
    TP_ASSERT_OK(tp_uri_get_size(&uri, "term-length", 1, 1, UINT64_MAX, true, &tl));
    TP_ASSERT_EQ_U64(65536, tl);
    bool tether = true;
    TP_ASSERT_OK(tp_uri_get_bool(&uri, "tether", true, &tether));
    TP_ASSERT(!tether);
    TP_ASSERT_STREQ("x", tp_uri_get(&uri, "alias"));
    TP_ASSERT(NULL == tp_uri_get(&uri, "mtu"));
    TP_ASSERT_OK(tp_uri_get_size(&uri, "mtu", 1408, 0, 65504, false, &tl));
    TP_ASSERT_EQ_U64(1408, tl);
}

static void test_uri_udp(void)
{
    tp_uri_t uri;
    TP_ASSERT_OK(tp_uri_parse("aeron:udp?endpoint=127.0.0.1:40123|interface=127.0.0.1|ttl=4", &uri));
    TP_ASSERT_EQ_I64(TP_URI_MEDIA_UDP, uri.media);
    struct sockaddr_storage addr;
    socklen_t len;
    TP_ASSERT_OK(tp_uri_resolve_endpoint(tp_uri_get(&uri, "endpoint"), false, &addr, &len));
    TP_ASSERT_EQ_U64(AF_INET, addr.ss_family);
    TP_ASSERT_EQ_U64(40123, ntohs(((struct sockaddr_in *)&addr)->sin_port));
    int64_t ttl = 0;
    TP_ASSERT_OK(tp_uri_get_int(&uri, "ttl", 0, 0, 255, &ttl));
    TP_ASSERT_EQ_I64(4, ttl);
    TP_ASSERT_OK(tp_uri_resolve_endpoint("[::1]:9000", false, &addr, &len));
    TP_ASSERT_EQ_U64(AF_INET6, addr.ss_family);
    TP_ASSERT_OK(tp_uri_resolve_interface("127.0.0.1/8", &addr, &len));
}

static void test_uri_errors(void)
{
    tp_uri_t uri;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("ipc", &uri));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "must start with 'aeron:'"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:tcp", &uri));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "unknown media 'tcp'"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?", &uri));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?term-length", &uri));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?term-length=", &uri));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?=1", &uri));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?mtu=1|mtu=2", &uri));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "given twice"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?mtu=1|", &uri));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse("aeron:ipc?bogus=1", &uri));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "unknown parameter 'bogus'"));
    TP_ASSERT_OK(tp_uri_parse("aeron:ipc?term-length=1000", &uri));
    uint64_t v;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_get_size(&uri, "term-length", 0, 65536, 1 << 30, true, &v));
    TP_ASSERT_OK(tp_uri_parse("aeron:ipc?term-length=12x", &uri));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_get_size(&uri, "term-length", 0, 0, UINT64_MAX, false, &v));
    TP_ASSERT_OK(tp_uri_parse("aeron:ipc?tether=yes", &uri));
    bool b;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_get_bool(&uri, "tether", true, &b));
    struct sockaddr_storage addr;
    socklen_t len;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_resolve_endpoint("127.0.0.1", false, &addr, &len));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_resolve_endpoint("127.0.0.1:0", false, &addr, &len));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_resolve_endpoint("127.0.0.1:70000", false, &addr, &len));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_resolve_endpoint("[::1:80", false, &addr, &len));
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_uri_parse(big, &uri));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_uri_parse(NULL, &uri));
}

int main(void)
{
    TP_RUN(test_uri_ipc);
    TP_RUN(test_uri_udp);
    TP_RUN(test_uri_errors);
    return tp_test_finish();
}

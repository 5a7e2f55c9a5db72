#include "tp_test.h"

#include <errno.h>

#include "common/tp_error.h"
#include "common/tp_log.h"

static void test_error_set_and_clear(void)
{
    TP_ASSERT_EQ_I64(-1, tp_err_set(TP_ERR_MALFORMED, "bad %s at %d", "thing", 7));
    TP_ASSERT_EQ_I64(TP_ERR_MALFORMED, tp_errcode());
    TP_ASSERT_STREQ("bad thing at 7", tp_errmsg());
    tp_err_prepend("while parsing");
    TP_ASSERT_STREQ("while parsing: bad thing at 7", tp_errmsg());
    TP_ASSERT_EQ_I64(TP_ERR_MALFORMED, tp_errcode());
    tp_err_clear();
    TP_ASSERT_EQ_I64(TP_OK, tp_errcode());
    TP_ASSERT_STREQ("", tp_errmsg());
}

static void test_error_errno_mapping(void)
{
    tp_err_set_errno(ENOENT, "open %s", "/nope");
    TP_ASSERT_EQ_I64(TP_ERR_NOT_FOUND, tp_errcode());
    TP_ASSERT(NULL != strstr(tp_errmsg(), "open /nope: "));
    tp_err_set_errno(EACCES, "open");
    TP_ASSERT_EQ_I64(TP_ERR_PERMISSION, tp_errcode());
    tp_err_set_errno(EIO, "read");
    TP_ASSERT_EQ_I64(TP_ERR_IO, tp_errcode());
}

static void test_error_message_truncates(void)
{
    char big[2 * TP_ERRMSG_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tp_err_set(TP_ERR_IO, "%s", big);
    TP_ASSERT_EQ_U64(TP_ERRMSG_MAX - 1, strlen(tp_errmsg()));
}

static void test_code_names(void)
{
    TP_ASSERT_STREQ("TP_ERR_VALIDATION", tp_error_code_name(TP_ERR_VALIDATION));
    TP_ASSERT_STREQ("TP_ERR_UNKNOWN", tp_error_code_name(999));
}

static int captured_level = -1;
static char captured_line[256];

static void capture(void *clientd, tp_log_level_t level, const char *module, const char *line)
{
    (void)clientd;
    (void)module;
    captured_level = (int)level;
    snprintf(captured_line, sizeof(captured_line), "%s", line);
}

static void test_log_levels(void)
{
    TP_ASSERT_EQ_I64(TP_LOG_LEVEL_DEBUG, tp_log_level_parse("DEBUG"));
    TP_ASSERT_EQ_I64(-1, tp_log_level_parse("loud"));
    tp_log_set_handler(capture, NULL);
    tp_log_set_level(TP_LOG_LEVEL_WARN);
    TP_LOG_INFO("test", "hidden %d", 1);
    TP_ASSERT_EQ_I64(-1, captured_level);
    TP_LOG_WARN("test", "shown %d", 2);
    TP_ASSERT_EQ_I64(TP_LOG_LEVEL_WARN, captured_level);
    TP_ASSERT_STREQ("shown 2", captured_line);
    tp_log_set_handler(NULL, NULL);
}

int main(void)
{
    TP_RUN(test_error_set_and_clear);
    TP_RUN(test_error_errno_mapping);
    TP_RUN(test_error_message_truncates);
    TP_RUN(test_code_names);
    TP_RUN(test_log_levels);
    return tp_test_finish();
}

/*
 * Minimal test harness: each test is a `static void name(void)`; assertions
 * print file:line and return from the test on failure. A test executable's
 * main() runs its tests with TP_RUN() and returns tp_test_finish().
 *
 * Filter: with $TP_TEST_FILTER set (non-empty), TP_RUN runs only the tests
 * whose function name contains it as a substring, e.g.
 * `TP_TEST_FILTER=stream_switch ctest --test-dir build -R descriptor
 * --output-on-failure`. Tests left out by the filter are counted as
 * filtered, never as passed; an executable that ran nothing because of the
 * filter exits 77 (ctest: skipped).
 */
#ifndef TP_TESTS_TP_TEST_H
#define TP_TESTS_TP_TEST_H

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "tensor_pool/tp_common.h"

/*
 * Temporary directories a test creates are registered here and removed at
 * process exit if they still exist, so a test that fails an assertion (and
 * returns before its own cleanup) leaves nothing behind. Only the process that
 * registered a directory removes it: forked children that exit never delete
 * their parent's directories.
 */
#define TP_TEST_MAX_TRACKED_DIRS 64
static char tp_test_tracked_dirs[TP_TEST_MAX_TRACKED_DIRS][512];
static pid_t tp_test_tracked_pid[TP_TEST_MAX_TRACKED_DIRS];
static int tp_test_tracked_count = 0;

static inline int tp_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void tp_test_cleanup_tracked(void)
{
    for (int i = 0; i < tp_test_tracked_count; i++)
    {
        struct stat st;
        if (tp_test_tracked_pid[i] == getpid() && 0 == lstat(tp_test_tracked_dirs[i], &st) && S_ISDIR(st.st_mode))
        {
            nftw(tp_test_tracked_dirs[i], tp_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
    }
}

/** Register a directory created by this test process for removal at exit (if it still exists). */
static inline void tp_test_track_dir(const char *path)
{
    if (0 == tp_test_tracked_count)
    {
        atexit(tp_test_cleanup_tracked);
    }
    if (NULL != path && tp_test_tracked_count < TP_TEST_MAX_TRACKED_DIRS && strlen(path) < 512)
    {
        snprintf(tp_test_tracked_dirs[tp_test_tracked_count], 512, "%s", path);
        tp_test_tracked_pid[tp_test_tracked_count] = getpid();
        tp_test_tracked_count++;
    }
}

static int tp_test_failed_count = 0;
static int tp_test_passed_count = 0;
static int tp_test_current_failed = 0;
static int tp_test_skipped_count = 0;
static int tp_test_current_skipped = 0;
static int tp_test_filtered_count = 0;

/** Skip the current test (prints the reason; counted as skipped, not passed). */
#define TP_SKIP(...) \
    do \
    { \
        fprintf(stderr, "  SKIP: "); \
        fprintf(stderr, __VA_ARGS__); \
        fprintf(stderr, "\n"); \
        tp_test_current_skipped = 1; \
        return; \
    } \
    while (0)

#define TP_TEST_FAIL_(...) \
    do \
    { \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); \
        fprintf(stderr, " (last tp error: %s: %s)\n", tp_error_code_name(tp_errcode()), tp_errmsg()); \
        tp_test_current_failed = 1; \
        return; \
    } \
    while (0)

#define TP_ASSERT(cond) \
    do \
    { \
        if (!(cond)) \
        { \
            TP_TEST_FAIL_("assertion failed: %s", #cond); \
        } \
    } \
    while (0)

#define TP_ASSERT_MSG(cond, ...) \
    do \
    { \
        if (!(cond)) \
        { \
            TP_TEST_FAIL_(__VA_ARGS__); \
        } \
    } \
    while (0)

#define TP_ASSERT_EQ_U64(expected, actual) \
    do \
    { \
        uint64_t tp_e_ = (uint64_t)(expected); \
        uint64_t tp_a_ = (uint64_t)(actual); \
        if (tp_e_ != tp_a_) \
        { \
            TP_TEST_FAIL_("%s == %s: expected %" PRIu64 " got %" PRIu64, #expected, #actual, tp_e_, tp_a_); \
        } \
    } \
    while (0)

#define TP_ASSERT_EQ_I64(expected, actual) \
    do \
    { \
        int64_t tp_e_ = (int64_t)(expected); \
        int64_t tp_a_ = (int64_t)(actual); \
        if (tp_e_ != tp_a_) \
        { \
            TP_TEST_FAIL_("%s == %s: expected %" PRId64 " got %" PRId64, #expected, #actual, tp_e_, tp_a_); \
        } \
    } \
    while (0)

#define TP_ASSERT_STREQ(expected, actual) \
    do \
    { \
        const char *tp_e_ = (expected); \
        const char *tp_a_ = (actual); \
        if (NULL == tp_a_ || 0 != strcmp(tp_e_, tp_a_)) \
        { \
            TP_TEST_FAIL_("%s == %s: expected \"%s\" got \"%s\"", #expected, #actual, tp_e_, \
                NULL == tp_a_ ? "(null)" : tp_a_); \
        } \
    } \
    while (0)

/** Assert that a call returns 0 (prints the tp error on failure). */
#define TP_ASSERT_OK(call) \
    do \
    { \
        if (0 != (call)) \
        { \
            TP_TEST_FAIL_("%s failed", #call); \
        } \
    } \
    while (0)

/** Assert that a call fails (-1) with the given tp error code. */
#define TP_ASSERT_ERR(code, call) \
    do \
    { \
        tp_err_clear(); \
        int tp_rc_ = (call); \
        if (-1 != tp_rc_ || (code) != tp_errcode()) \
        { \
            TP_TEST_FAIL_("%s: expected -1 with %s, got %d with %s", #call, tp_error_code_name(code), tp_rc_, \
                tp_error_code_name(tp_errcode())); \
        } \
    } \
    while (0)

/** Whether test `name` is selected by $TP_TEST_FILTER (substring; unset or empty selects every test). */
static inline int tp_test_selected(const char *name)
{
    const char *filter = getenv("TP_TEST_FILTER");
    return NULL == filter || '\0' == filter[0] || NULL != strstr(name, filter);
}

static inline void tp_test_run(const char *name, void (*fn)(void))
{
    if (!tp_test_selected(name))
    {
        tp_test_filtered_count++;
        return;
    }
    tp_test_current_failed = 0;
    tp_test_current_skipped = 0;
    tp_err_clear();
    fprintf(stderr, "[ RUN  ] %s\n", name);
    fn();
    if (tp_test_current_skipped && !tp_test_current_failed)
    {
        tp_test_skipped_count++;
        fprintf(stderr, "[ SKIP ] %s\n", name);
    }
    else if (tp_test_current_failed)
    {
        tp_test_failed_count++;
        fprintf(stderr, "[ FAIL ] %s\n", name);
    }
    else
    {
        tp_test_passed_count++;
        fprintf(stderr, "[  OK  ] %s\n", name);
    }
}

#define TP_RUN(fn) tp_test_run(#fn, fn)

/**
 * Print the summary; exit status 1 on failure, 77 (ctest: skipped) when no
 * test passed because every test that was not filtered out skipped.
 */
static inline int tp_test_finish(void)
{
    fprintf(stderr, "%d passed, %d failed", tp_test_passed_count, tp_test_failed_count);
    if (tp_test_skipped_count > 0)
    {
        fprintf(stderr, ", %d skipped", tp_test_skipped_count);
    }
    if (tp_test_filtered_count > 0)
    {
        fprintf(stderr, ", %d filtered out by TP_TEST_FILTER", tp_test_filtered_count);
    }
    fprintf(stderr, "\n");
    if (tp_test_failed_count > 0)
    {
        return 1;
    }
    return 0 == tp_test_passed_count && (tp_test_skipped_count > 0 || tp_test_filtered_count > 0) ? 77 : 0;
}

#endif

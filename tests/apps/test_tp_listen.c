/*
 * `tp listen` output: publishes every golden wire vector (plus a message of
 * another schema and a truncated one) on a private embedded-transport stream,
 * (a driver message, printed field by field, and a discovery message, printed as Unknown)
 * runs `tp listen control` in text and JSON mode, and compares what it prints
 * with tests/apps/listen_expected.{txt,jsonl} line by line
 * (TP_LISTEN_REGENERATE=1 rewrites them from the current output).
 * argv: tp binary, vectors dir, directory of the expected files.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "common/tp_clock.h"
#include "tp_test.h"
#include "transport/tp_transport.h"

static const char *tp_bin, *vectors_dir, *expected_dir;

static const char *const listen_files[] = {
    "wire/ShmPoolAnnounce.bin", "wire/ConsumerHello.bin", "wire/ConsumerConfig.bin", "wire/FrameDescriptor.bin",
    "wire/FrameDescriptor.nulls.bin", "wire/FrameProgress.bin", "wire/QosConsumer.bin", "wire/QosProducer.bin",
    "wire/DataSourceAnnounce.bin", "wire/DataSourceMeta.bin", "wire/MetaBlobAnnounce.bin", "wire/MetaBlobChunk.bin",
    "wire/MetaBlobComplete.bin", "wire/ControlResponse.bin", "driver/ShmAttachRequest.bin", "discovery/DiscoveryRequest.bin",
    "wire/ShmPoolAnnounce.bin#truncated", "wire/FrameProgress.bin#truncated",
};
#define LISTEN_COUNT (sizeof(listen_files) / sizeof(listen_files[0]))

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (NULL == f)
    {
        return 0;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

static int wait_child(pid_t pid, uint64_t timeout_ms)
{
    uint64_t end = tp_clock_mono_ns() + timeout_ms * 1000000u;
    int status = 0;
    while (tp_clock_mono_ns() < end)
    {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
        {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        tp_sleep_ns(10000000u);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void run_listen(const char *root, bool json, int32_t stream, const char *expected_name)
{
    char transport[600], out[600], stream_s[32], count_s[32];
    snprintf(transport, sizeof(transport), "%s/transport", root);
    snprintf(out, sizeof(out), "%s/listen-%d.out", root, stream);
    snprintf(stream_s, sizeof(stream_s), "%d", stream);
    snprintf(count_s, sizeof(count_s), "%zu", LISTEN_COUNT);
    tp_transport_context_t tctx;
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    tp_transport_context_init(&tctx);
    TP_ASSERT_OK(tp_transport_context_set_dir(&tctx, transport));
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", stream, 0));
    pid_t l = fork();
    if (0 == l)
    {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
        {
            dup2(fd, 1);
            close(fd);
        }
        execl(tp_bin, tp_bin, "listen", "control", "--stream", stream_s, "--transport-dir", transport, "--count", count_s,
            "--duration", "20", json ? "--json" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    uint64_t end = tp_clock_mono_ns() + UINT64_C(10000000000);
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < end)
    {
        tp_transport_do_work(t);
        tp_sleep_ns(1000000u);
    }
    TP_ASSERT(tp_publication_is_connected(pub));
    for (size_t i = 0; i < LISTEN_COUNT; i++)
    {
        char path[1024], name[256];
        uint8_t msg[4096];
        snprintf(name, sizeof(name), "%s", listen_files[i]);
        char *hash = strchr(name, '#');
        if (NULL != hash)
        {
            *hash = '\0';
        }
        snprintf(path, sizeof(path), "%s/%s", vectors_dir, name);
        size_t n = read_all(path, msg, sizeof(msg));
        TP_ASSERT_MSG(n > 0, "cannot read %s", path);
        if (NULL != hash)
        {
            n -= 3;
        }
        int64_t r;
        while ((r = tp_publication_offer(pub, msg, n, NULL, NULL)) < 0 && tp_clock_mono_ns() < end)
        {
            TP_ASSERT(TP_PUBLICATION_BACK_PRESSURED == r || TP_PUBLICATION_ADMIN_ACTION == r);
            tp_transport_do_work(t);
        }
        TP_ASSERT(r > 0);
    }
    TP_ASSERT_EQ_I64(0, wait_child(l, 20000));
    tp_publication_close(pub);
    tp_transport_close(t);

    static uint8_t got[65536], want[65536];
    char want_path[1024];
    snprintf(want_path, sizeof(want_path), "%s/%s", expected_dir, expected_name);
    size_t got_len = read_all(out, got, sizeof(got));
    if (NULL != getenv("TP_LISTEN_REGENERATE"))
    {
        /* Maintenance: TP_LISTEN_REGENERATE=1 rewrites the expected file with this output (review the diff). */
        FILE *f = fopen(want_path, "wb");
        TP_ASSERT(NULL != f);
        fwrite(got, 1, got_len, f);
        fclose(f);
    }
    TP_ASSERT_MSG(read_all(want_path, want, sizeof(want)) > 0, "cannot read %s", want_path);
    if (0 != strcmp((const char *)want, (const char *)got))
    {
        fprintf(stderr, "--- expected (%s)\n%s--- got\n%s", want_path, want, got);
    }
    TP_ASSERT(0 == strcmp((const char *)want, (const char *)got));
}

static void test_listen_text_and_json(void)
{
    char root[] = "/tmp/tp-listen-test-XXXXXX";
    TP_ASSERT(NULL != mkdtemp(root));
    tp_test_track_dir(root);
    char transport[600];
    snprintf(transport, sizeof(transport), "%s/transport", root);
    TP_ASSERT(0 == mkdir(transport, 0700));
    run_listen(root, false, 4242, "listen_expected.txt");
    run_listen(root, true, 4243, "listen_expected.jsonl");
}

int main(int argc, char **argv)
{
    if (argc < 4)
    {
        fprintf(stderr, "usage: %s TP_BIN VECTORS_DIR EXPECTED_DIR\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    vectors_dir = argv[2];
    expected_dir = argv[3];
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/wire/vectors.json", vectors_dir);
    if (0 != access(probe, R_OK))
    {
        fprintf(stderr, "vectors not found: skipped\n");
        return 77;
    }
    TP_RUN(test_listen_text_and_json);
    return tp_test_finish();
}

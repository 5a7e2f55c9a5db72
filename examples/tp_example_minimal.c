/*
 * The user guide's example (docs/USER_GUIDE.md §3) as a complete program: one
 * process, one producer and one consumer in invoker mode. It sends 480x640
 * UINT8 images, checks every received payload, and applies the zero-copy rule
 * (tp_frame_is_valid after reading). Exit status 0 when 100 frames arrived
 * intact. Shared memory and transport logs go to a private temp directory.
 *
 *   tp_example_minimal [FRAMES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ftw.h>
#include <unistd.h>

#include "tensor_pool/tp.h"
#include "tp_args.h"

#define TP_MIN_ROWS 480
#define TP_MIN_COLS 640

typedef struct example_state_stct
{
    int received;
    int bad;
    int discarded;
} example_state_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    example_state_t *state = (example_state_t *)clientd;
    unsigned sum = 0;
    for (size_t i = 0; i < frame->length; i++)
    {
        sum += frame->payload[i];
    }
    if (!tp_frame_is_valid(frame)) /* read in place, then re-check */
    {
        state->discarded++;
        return;
    }
    if (frame->length != TP_MIN_ROWS * TP_MIN_COLS || sum != (unsigned)(frame->length * (frame->seq % 200u)) ||
        2 != frame->tensor->ndims || TP_MIN_ROWS != frame->tensor->dims[0])
    {
        state->bad++;
    }
    state->received++;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int run(const char *dir, int frames)
{
    static unsigned char pixels[TP_MIN_ROWS * TP_MIN_COLS];
    example_state_t state = { 0, 0, 0 };
    tp_context_t *ctx = NULL;
    tp_client_t *client = NULL;
    if (tp_context_init(&ctx) < 0 || tp_context_set_shm_base_dir(ctx, dir) < 0 ||
        tp_context_set_transport_dir(ctx, dir) < 0 || tp_client_init(&client, ctx) < 0)
    {
        fprintf(stderr, "tp_example_minimal: %s\n", tp_errmsg());
        tp_context_close(ctx);
        return 1;
    }
    tp_context_close(ctx);

    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 10000;
    cc.on_frame = on_frame;
    cc.clientd = &state;
    tp_consumer_t *consumer = NULL;

    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 64;
    pc.pool_count = 2;
    pc.pools[0] = (tp_pool_config_t){ .pool_id = 1, .stride_bytes = 64 * 1024 };
    pc.pools[1] = (tp_pool_config_t){ .pool_id = 2, .stride_bytes = 1024 * 1024 };
    tp_producer_t *producer = NULL;

    if (tp_client_add_consumer(&consumer, client, &cc, 0) < 0 || tp_client_add_producer(&producer, client, &pc, 0) < 0)
    {
        fprintf(stderr, "tp_example_minimal: %s\n", tp_errmsg());
        tp_client_close(client);
        return 1;
    }

    tp_tensor_header_t t;
    memset(&t, 0, sizeof(t));
    t.dtype = TP_DTYPE_UINT8;
    t.major_order = TP_MAJOR_ORDER_ROW;
    t.ndims = 2;
    t.dims[0] = TP_MIN_ROWS;
    t.dims[1] = TP_MIN_COLS;

    int sent = 0;
    for (int i = 0; i < 20000 && state.received + state.discarded < frames; i++)
    {
        tp_client_do_work(client);
        if (tp_consumer_is_mapped(consumer) && sent < frames)
        {
            memset(pixels, (int)(tp_producer_next_seq(producer) % 200u), sizeof(pixels));
            int64_t seq = tp_producer_offer(producer, &t, pixels, sizeof(pixels), NULL);
            if (seq >= 0)
            {
                sent++;
            }
            else if (TP_PRODUCER_BACK_PRESSURED != seq)
            {
                fprintf(stderr, "tp_example_minimal: offer returned %lld: %s\n", (long long)seq, tp_errmsg());
                break;
            }
        }
        struct timespec pause = { 0, 200000 };
        nanosleep(&pause, NULL);
    }
    printf("sent %d, received %d (%d bad, %d discarded after the re-check)\n", sent, state.received, state.bad,
        state.discarded);
    tp_client_close(client);
    return state.received + state.discarded == frames && 0 == state.bad ? 0 : 1;
}

int main(int argc, char **argv)
{
    uint32_t frames = 100;
    if (argc > 2 || (2 == argc && tp_args_u32("tp_example_minimal", "FRAMES", argv[1], 1, 1000000,
                                      "a frame count", &frames) < 0))
    {
        fprintf(stderr, "usage: tp_example_minimal [FRAMES]\n");
        return 2;
    }
    char dir[] = "/tmp/tp-minimal-XXXXXX";
    if (NULL == mkdtemp(dir))
    {
        perror("mkdtemp");
        return 1;
    }
    int rc = run(dir, (int)frames);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/*
 * Discovery query round trip: a provider on its own thread (registry filled
 * directly with N streams of one driver), a tp_discovery client in this
 * thread. Prints one JSON line per case: p50/p99 of the query round trip
 * (request sent to result set built) for a query matching one stream and a
 * query matching all N (1000, the default result cap).
 *
 *   tp_bench_discovery [--smoke]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_client_test_util.h"
#include "discovery/tp_discovery_provider.h"
#include "tensor_pool/tp_discovery.h"

typedef struct
{
    tp_discovery_provider_t *provider;
    tp_transport_t *transport;
    atomic_bool stop;
} runner_t;

static void *run(void *arg)
{
    runner_t *r = arg;
    while (!atomic_load(&r->stop))
    {
        tp_transport_do_work(r->transport);
        if (tp_discovery_provider_do_work(r->provider, tp_clock_mono_ns()) <= 0)
        {
            tp_sleep_ns(20000);
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static int bench(tp_discovery_client_t *dc, const char *name, const tp_discovery_query_t *q, size_t n, size_t want)
{
    uint64_t *lat = malloc(n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
    {
        tp_discovery_results_t *res = NULL;
        uint64_t t0 = tp_clock_mono_ns();
        if (tp_discovery_query(dc, q, &res) < 0 || tp_discovery_results_count(res) != want)
        {
            fprintf(stderr, "tp_bench_discovery: %s: %s (%zu results)\n", name, tp_errmsg(),
                tp_discovery_results_count(res));
            tp_discovery_results_close(res);
            free(lat);
            return -1;
        }
        lat[i] = tp_clock_mono_ns() - t0;
        tp_discovery_results_close(res);
    }
    qsort(lat, n, sizeof(uint64_t), cmp_u64);
    printf("{\"bench\":\"discovery_query\",\"case\":\"%s\",\"results\":%zu,\"n\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
        name, want, n, (double)lat[n / 2] / 1e3, (double)lat[(n * 99) / 100] / 1e3);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && 0 == strcmp(argv[1], "--smoke");
    if (argc > 2 || (argc == 2 && !smoke))
    {
        fprintf(stderr, "usage: tp_bench_discovery [--smoke]\n");
        return 2;
    }
    tpc_dirs_t d;
    if (tpc_dirs_make(&d, "bench-disc") < 0)
    {
        return 1;
    }
    tp_transport_t *hold = tpc_driver_hold(&d);
    int rc = 1;
    runner_t r = { 0 };
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_discovery_provider_config_t c;
    tp_discovery_provider_config_defaults(&c);
    tp_discovery_client_t *dc = NULL;
    pthread_t th;
    bool started = false;
    if (tp_transport_context_set_dir(&tctx, d.transport) < 0 || tp_transport_init(&r.transport, &tctx) < 0 ||
        tp_discovery_provider_init(&r.provider, r.transport, &c) < 0)
    {
        fprintf(stderr, "tp_bench_discovery: %s\n", tp_errmsg());
        goto done;
    }
    /* N streams of one driver, each with 2 pools and 2 tags */
    const uint32_t streams = 1000;
    tp_discovery_registry_t *reg = tp_discovery_provider_registry(r.provider);
    tp_discovery_authority_t a = { "driver-01", "aeron:ipc?term-length=4m", 1000 };
    const char *tags[] = { "camera", "bench" };
    for (uint32_t i = 0; i < streams; i++)
    {
        char h[96];
        char p1[96];
        char p2[96];
        snprintf(h, sizeof(h), "shm:file?path=/dev/shm/tensorpool-u/default/%u/1/header.ring", 10000 + i);
        snprintf(p1, sizeof(p1), "shm:file?path=/dev/shm/tensorpool-u/default/%u/1/1.pool", 10000 + i);
        snprintf(p2, sizeof(p2), "shm:file?path=/dev/shm/tensorpool-u/default/%u/1/2.pool", 10000 + i);
        tp_proto_shm_pool_announce_view_t v;
        memset(&v, 0, sizeof(v));
        v.stream_id = 10000 + i;
        v.epoch = 1;
        v.layout_version = 1;
        v.header_nslots = 1024;
        v.header_slot_bytes = 256;
        v.pool_count = 2;
        v.pools[0] = (tp_proto_pool_view_t){ 1, 1024, 4096, { p1, (uint32_t)strlen(p1) } };
        v.pools[1] = (tp_proto_pool_view_t){ 2, 1024, 65536, { p2, (uint32_t)strlen(p2) } };
        v.header_region_uri = (tp_proto_str_t){ h, (uint32_t)strlen(h) };
        if (i < TP_DISCOVERY_MAX_STATIC)
        {
            tp_discovery_registry_set_static(reg, "driver-01", v.stream_id, tags, 2, false, 0, "bench-source");
        }
        tp_discovery_registry_on_announce(reg, &a, &v, tp_clock_mono_ns(), UINT64_C(3600000000000));
    }
    if (0 != pthread_create(&th, NULL, run, &r))
    {
        goto done;
    }
    started = true;
    tp_context_t *ctx = tpc_context(&d);
    tp_discovery_client_options_t o;
    tp_discovery_client_options_defaults(&o);
    o.request_stream_id = (int32_t)TP_DISCOVERY_DEFAULT_STREAM_ID;
    if (NULL == ctx || tp_discovery_client_init(&dc, ctx, &o) < 0)
    {
        fprintf(stderr, "tp_bench_discovery: %s\n", tp_errmsg());
        tp_context_close(ctx);
        goto done;
    }
    tp_context_close(ctx);
    tp_discovery_query_t one;
    tp_discovery_query_init(&one);
    one.has_stream_id = true;
    one.stream_id = 10500;
    tp_discovery_query_t all;
    tp_discovery_query_init(&all);
    rc = bench(dc, "one_stream", &one, smoke ? 20 : 2000, 1) < 0 || bench(dc, "all_1000", &all, smoke ? 5 : 200, streams) < 0;
done:
    if (started)
    {
        atomic_store(&r.stop, true);
        pthread_join(th, NULL);
    }
    tp_discovery_client_close(dc);
    tp_discovery_provider_close(r.provider);
    tp_transport_close(r.transport);
    tpc_driver_release(hold);
    tpc_dirs_remove(&d);
    return rc;
}

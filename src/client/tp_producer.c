/*
 * Producer (wire spec §10.1.1, §10.2, §10.3, §10.4.2, §15.2, §15.18) in
 * standalone mode: creates its own regions in the canonical layout.
 *
 * Hot path (application thread, single writer of the SHM): offer, try_claim,
 * commit, abort, progress, flush. Frames are published strictly in sequence
 * order through a small ring of in-flight entries. Before a slot's
 * seq_commit is set, the FrameDescriptor's space is claimed on the
 * descriptor publication, so back pressure never leaves a committed slot
 * without its descriptor and never burns a sequence number.
 *
 * Control plane (conductor): ShmPoolAnnounce, activity refresh,
 * QosProducer, DataSourceAnnounce/Meta, ConsumerHello/QosConsumer tracking,
 * progress policy, declining per-consumer stream requests.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/tp_client_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "common/tp_uri.h"
#include "tp_sbe/wire.h"

#define TP_DESCRIPTOR_LENGTH (TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH)
#define TP_PROGRESS_LENGTH (TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_FRAME_PROGRESS_BLOCK_LENGTH)
#define TP_PRODUCER_ENCODE_BUFFER (128u * 1024u)
#define TP_PRODUCER_MAX_TRACKED_CONSUMERS 64
#define TP_ADMIN_RETRIES 64
/* Producer floors for FrameProgress (consumers may ask for less, never below these). */
#define TP_PROGRESS_MIN_INTERVAL_NS UINT64_C(50000)
#define TP_PROGRESS_MIN_BYTES UINT64_C(4096)
#define TP_PROGRESS_DEFAULT_INTERVAL_NS UINT64_C(250000)
#define TP_PROGRESS_DEFAULT_BYTES UINT64_C(65536)
/* Extra ShmPoolAnnounce on a ConsumerHello or a new subscriber: at most one per this gap (§10.1.1 "on change"). */
#define TP_ANNOUNCE_PROMPT_MIN_GAP_NS UINT64_C(50000000)

typedef struct tp_producer_entry_stct
{
    uint64_t seq;
    uint32_t pool_index;
    bool ready;
    bool aborted;
    uint64_t trace_id;
    tp_shm_slot_header_t header;
    size_t length;
    uint64_t progress_last_ns;
    uint64_t progress_last_bytes;
    uint64_t progress_reported;
    bool progress_started;
} tp_producer_entry_t;

/* One per-consumer stream: requested channel/id, pending add, publication. */
typedef struct tp_consumer_stream_stct
{
    char channel[TP_CLIENT_CHANNEL_MAX];
    int32_t stream_id;
    tp_async_add_publication_t *async;
    tp_publication_t *pub;
} tp_consumer_stream_t;

/* FrameProgress handed from the application thread to the conductor for per-consumer control streams. */
#define TP_PROGRESS_RING_CAPACITY 1024u
typedef struct tp_progress_entry_stct
{
    uint64_t epoch;
    uint64_t seq;
    uint64_t bytes_filled;
    uint8_t state;
} tp_progress_entry_t;

typedef struct tp_tracked_consumer_stct
{
    uint32_t consumer_id;
    uint64_t last_seen_ns;
    bool supports_progress;
    uint32_t progress_interval_us;  /* UINT32_MAX = none */
    uint32_t progress_bytes_delta;  /* UINT32_MAX = none */
    uint32_t max_rate_hz;
    uint8_t mode;
    tp_consumer_stream_t desc; /* per-consumer descriptor stream (§5) */
    tp_consumer_stream_t ctl;  /* per-consumer control stream: FrameProgress only (§5) */
    uint64_t next_allowed_ns;
    uint64_t mapped_epoch; /* epoch of its last QosConsumer (0 = none yet) */
} tp_tracked_consumer_t;

/* A meta blob being sent by the conductor. */
typedef struct tp_producer_blob_stct
{
    uint32_t meta_version;
    uint32_t blob_type;
    uint64_t length;
    uint64_t offset;   /* next chunk */
    uint32_t checksum;
    bool announced;
    uint8_t data[];
} tp_producer_blob_t;

#define TP_META_BLOB_CHUNK_MAX (64u * 1024u)

/* Committed frames handed from the application thread to the conductor (SPSC) for per-consumer streams. */
#define TP_FANOUT_CAPACITY 4096u
typedef struct tp_fanout_entry_stct
{
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    uint32_t meta_version;
} tp_fanout_entry_t;

/*
 * The regions of one epoch (§15.2, §15.21a): immutable after creation except
 * the conductor's retirement fields. The application thread's hot path and
 * the conductor each hold their own pointer; a layout change hands a new set
 * over through `pending_regions`.
 */
typedef struct tp_producer_regions_stct
{
    uint64_t epoch;
    uint32_t header_nslots;
    char epoch_dir[PATH_MAX];
    tp_shm_region_t *ring;
    tp_shm_region_t *pools[TP_PRODUCER_MAX_POOLS]; /* ascending stride */
    uint32_t strides[TP_PRODUCER_MAX_POOLS];
    uint16_t pool_ids[TP_PRODUCER_MAX_POOLS];
    size_t pool_count;
    char header_uri[TP_REGION_URI_MAX];
    char pool_uris[TP_PRODUCER_MAX_POOLS][TP_REGION_URI_MAX];
    uint64_t retire_at_ns;                       /* conductor: superseded, removed at this time */
    struct tp_producer_regions_stct *next;       /* conductor: retired list */
} tp_producer_regions_t;

typedef struct tp_producer_meta_stct
{
    uint32_t meta_version;
    size_t count;
    char **keys;
    char **formats;
    uint8_t **values;
    uint32_t *lengths;
} tp_producer_meta_t;

struct tp_producer_stct
{
    tp_client_t *client;
    tp_producer_config_t config;
    bool active;
    tp_pending_adds_t pending;

    tp_producer_regions_t *hot;     /* application thread: the regions the hot path writes */
    tp_producer_regions_t *regions; /* conductor: the regions announced */
    tp_producer_regions_t *retired; /* conductor: superseded epochs kept for the grace period */
    _Atomic(tp_producer_regions_t *) pending_regions; /* layout change: application thread -> conductor */
    _Atomic uint64_t applied_epoch; /* conductor: epoch of the regions announced (release) */
    _Atomic uint64_t epoch;         /* current epoch of the hot path (any thread) */
    _Atomic uint64_t layout_changes;

    tp_publication_t *pub_descriptor;
    tp_publication_t *pub_control;
    tp_publication_t *pub_announce; /* == pub_control when the streams coincide */
    tp_publication_t *pub_qos;
    tp_publication_t *pub_metadata;
    tp_subscription_t *sub_control;
    tp_subscription_t *sub_qos;

    /* hot path: application thread only */
    uint64_t next_seq;
    tp_producer_entry_t *entries;
    uint32_t entries_capacity;
    uint32_t max_claims;
    uint32_t head;
    uint32_t count;
    _Atomic uint64_t current_seq;
    _Atomic uint64_t frames, bytes, descriptors_published, descriptors_not_connected, descriptors_failed, back_pressured,
        admin_action_retries, no_pool_drops, claims_aborted, progress_sent;

    /* written by the conductor, read anywhere */
    _Atomic uint64_t announces, qos_sent, hellos_received, consumers_known, consumers_stale;
    _Atomic uint32_t meta_version;
    _Atomic bool progress_enabled;
    _Atomic uint64_t progress_interval_ns;
    _Atomic uint64_t progress_bytes_delta;

    /* conductor only */
    uint64_t next_announce_ns;
    uint64_t last_announce_ns;
    bool announce_requested;     /* a ConsumerHello or a new announce subscriber asks for a prompt announce */
    bool announce_connected;     /* last seen tp_publication_is_connected(pub_announce) */
    _Atomic uint64_t prompt_announces;
    uint64_t next_qos_ns;
    bool meta_dirty;
    tp_producer_meta_t *meta;
    tp_tracked_consumer_t consumers[TP_PRODUCER_MAX_TRACKED_CONSUMERS];
    size_t consumer_count;
    uint8_t *encode_buffer;

    /* SPSC ring: the application thread pushes committed seqs while per-consumer streams exist */
    tp_fanout_entry_t *fanout;
    _Alignas(64) _Atomic uint64_t fanout_tail; /* application thread */
    _Alignas(64) _Atomic uint64_t fanout_head; /* conductor */
    _Atomic bool fanout_active;
    _Atomic uint64_t fanout_overflow;           /* application thread */
    _Atomic uint64_t per_consumer_descriptors;  /* conductor */
    _Atomic uint64_t per_consumer_rate_limited; /* conductor */
    tp_producer_blob_t *blob;                   /* conductor */
    tp_progress_entry_t *progress_ring;
    _Alignas(64) _Atomic uint64_t progress_tail; /* application thread */
    _Alignas(64) _Atomic uint64_t progress_head; /* conductor */
    _Atomic bool progress_fanout_active;         /* a progress consumer has its own control stream */
    _Atomic bool progress_shared;                /* a progress consumer listens on the shared control stream */
    _Atomic uint64_t meta_blobs_sent;           /* conductor */
};


void tp_producer_config_init(tp_producer_config_t *config)
{
    if (NULL == config)
    {
        return;
    }
    memset(config, 0, sizeof(*config));
    config->stream_id = 10000;
    config->header_nslots = 1024;
    config->pool_count = 1;
    config->pools[0].pool_id = 1;
    config->pools[0].stride_bytes = 64 * 1024;
    config->max_claims = 16;
    config->prefault = true;
    config->remove_on_close = true;
    config->file_mode = 0600;
}

/* ------------------------------------------------------------------------- */
/* Creation                                                                   */
/* ------------------------------------------------------------------------- */

static int validate_layout(uint32_t header_nslots, size_t pool_count, const tp_pool_config_t *pools)
{
    if (0 == header_nslots || (header_nslots & (header_nslots - 1)) != 0)
    {
        return tp_err_set(TP_ERR_CONFIG, "producer: header_nslots %u must be a power of two", header_nslots);
    }
    if (0 == pool_count || pool_count > TP_PRODUCER_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_CONFIG, "producer: pool_count %zu must be 1..%d", pool_count, TP_PRODUCER_MAX_POOLS);
    }
    for (size_t i = 0; i < pool_count; i++)
    {
        if (0 == pools[i].pool_id)
        {
            return tp_err_set(TP_ERR_CONFIG, "producer: pool %zu has pool_id 0 (reserved for the header ring)", i);
        }
        if (0 == pools[i].stride_bytes || pools[i].stride_bytes % 64 != 0)
        {
            return tp_err_set(TP_ERR_CONFIG, "producer: pool %u stride_bytes %u must be a non-zero multiple of 64",
                pools[i].pool_id, pools[i].stride_bytes);
        }
        for (size_t j = 0; j < i; j++)
        {
            if (pools[j].pool_id == pools[i].pool_id)
            {
                return tp_err_set(TP_ERR_CONFIG, "producer: duplicate pool_id %u", pools[i].pool_id);
            }
        }
    }
    return 0;
}

static int validate_config(const tp_producer_config_t *c)
{
    for (size_t i = 0; i < TP_PRODUCER_CHANNEL_ALLOW_MAX; i++)
    {
        const char *prefix = c->per_consumer_channels[i];
        if (NULL == memchr(prefix, '\0', TP_PRODUCER_CHANNEL_PREFIX_MAX))
        {
            return tp_err_set(TP_ERR_CONFIG, "producer config: per_consumer_channels[%zu] is not NUL-terminated", i);
        }
        if ('\0' != prefix[0] && 0 != strncmp(prefix, "aeron:", 6))
        {
            return tp_err_set(TP_ERR_CONFIG,
                "producer config: per_consumer_channels[%zu] \"%s\" must be an Aeron channel prefix (\"aeron:...\")", i,
                prefix);
        }
    }
    return validate_layout(c->header_nslots, c->pool_count, c->pools);
}

/* Whether `channel` matches an allow-list prefix (see tp_producer_config_t.per_consumer_channels). */
static bool channel_prefix_matches(const char *prefix, const char *channel)
{
    size_t n = strlen(prefix);
    if (0 == n || 0 != strncmp(channel, prefix, n))
    {
        return false;
    }
    return NULL != strchr(prefix, '?') || '\0' == channel[n] || '?' == channel[n];
}

/*
 * A per-consumer stream request from a (untrusted) ConsumerHello: allowed channel and a term-length within the
 * cap. Logs why a request is declined.
 */
static bool channel_allowed(const tp_producer_t *p, const char *channel)
{
    bool any = false;
    bool match = false;
    for (size_t i = 0; i < TP_PRODUCER_CHANNEL_ALLOW_MAX && !match; i++)
    {
        const char *prefix = p->config.per_consumer_channels[i];
        any = any || '\0' != prefix[0];
        match = channel_prefix_matches(prefix, channel);
    }
    if (!any)
    {
        match = channel_prefix_matches("aeron:ipc", channel);
    }
    if (!match)
    {
        TP_LOG_DEBUG("producer", "stream %u: per-consumer channel %s declined: not in the allowed channels",
            p->config.stream_id, channel);
        return false;
    }
    tp_uri_t uri;
    uint64_t cap = p->config.per_consumer_max_term_length ? p->config.per_consumer_max_term_length
                                                          : TP_PRODUCER_DEFAULT_MAX_TERM_LENGTH;
    uint64_t term_length = 0;
    if (tp_uri_parse(channel, &uri) < 0 || tp_uri_get_size(&uri, "term-length", 0, 0, UINT64_MAX, false, &term_length) < 0)
    {
        TP_LOG_DEBUG("producer", "stream %u: per-consumer channel %s declined: %s", p->config.stream_id, channel,
            tp_errmsg());
        return false;
    }
    if (term_length > cap)
    {
        TP_LOG_DEBUG("producer", "stream %u: per-consumer channel %s declined: term-length %llu above the cap %llu",
            p->config.stream_id, channel, (unsigned long long)term_length, (unsigned long long)cap);
        return false;
    }
    return true;
}

/* Highest epoch present in the stream directory (0 when none). */
static uint64_t highest_epoch(const char *stream_dir)
{
    DIR *d = opendir(stream_dir);
    uint64_t max = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    while (NULL != (e = readdir(d)))
    {
        char *end = NULL;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
        {
            continue;
        }
        errno = 0;
        unsigned long long v = strtoull(e->d_name, &end, 10);
        if (0 == errno && end && '\0' == *end && v > max)
        {
            max = v;
        }
    }
    closedir(d);
    return max;
}

/*
 * Unmap a set of regions; `remove` also unlinks its epoch directory. Files
 * are only unlinked, never truncated: a consumer still mapping them keeps
 * valid pages until it unmaps.
 */
static void regions_free(tp_producer_regions_t *r, bool remove)
{
    if (NULL == r)
    {
        return;
    }
    tp_shm_region_close(r->ring);
    for (size_t i = 0; i < r->pool_count; i++)
    {
        tp_shm_region_close(r->pools[i]);
    }
    if (remove && r->epoch_dir[0])
    {
        tp_shm_epoch_dir_remove(r->epoch_dir);
    }
    free(r);
}

/*
 * Create the regions of a new epoch (at least `min_epoch`, above every epoch
 * directory present) in the canonical layout. Returns the set or NULL.
 */
static tp_producer_regions_t *create_regions(tp_producer_t *p, uint32_t header_nslots, size_t pool_count,
    const tp_pool_config_t *pools, uint64_t min_epoch)
{
    const tp_context_t *ctx = &p->client->ctx;
    char path[PATH_MAX];
    if (tp_shm_epoch_dir_path(path, sizeof(path), ctx->shm_base_dir, NULL, ctx->namespace_name,
            p->config.stream_id, 0) < 0)
    {
        return NULL;
    }
    char *slash = strrchr(path, '/');
    if (NULL == slash)
    {
        tp_err_set(TP_ERR_STATE, "producer: bad epoch dir path %s", path);
        return NULL;
    }
    *slash = '\0';
    tp_producer_regions_t *r = calloc(1, sizeof(*r));
    if (NULL == r)
    {
        tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
        return NULL;
    }
    uint64_t epoch = highest_epoch(path) + 1;
    epoch = epoch < min_epoch ? min_epoch : epoch;
    int attempts = 0;
    while (tp_shm_epoch_dir_create(r->epoch_dir, sizeof(r->epoch_dir), ctx->shm_base_dir, ctx->namespace_name,
               p->config.stream_id, epoch, false) < 0 ||
        highest_epoch(path) > epoch)
    {
        if (++attempts > 8)
        {
            r->epoch_dir[0] = '\0';
            free(r);
            tp_err_prepend("producer: cannot create an epoch directory under %s", path);
            return NULL;
        }
        epoch = highest_epoch(path) + 1;
        epoch = epoch < min_epoch ? min_epoch : epoch;
    }
    /* The directory may already exist (created concurrently); region creation uses O_EXCL and fails then. */
    r->epoch = epoch;
    r->header_nslots = header_nslots;

    tp_shm_create_options_t opts;
    tp_shm_create_options_init(&opts);
    opts.file_mode = p->config.file_mode ? p->config.file_mode : 0600;
    opts.prefault = p->config.prefault;

    tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = TP_SHM_LAYOUT_VERSION,
        .epoch = epoch, .stream_id = p->config.stream_id, .pool_id = 0, .nslots = header_nslots, .stride_bytes = 0 };
    char file[PATH_MAX];
    if (tp_shm_header_ring_path(file, sizeof(file), r->epoch_dir) < 0 ||
        tp_shm_region_create(&r->ring, file, &params, &opts) < 0 ||
        tp_shm_uri_format(file, false, r->header_uri, sizeof(r->header_uri)) < 0)
    {
        tp_err_prepend("producer: header ring");
        regions_free(r, true);
        return NULL;
    }
    /* pools in ascending stride order: the first that fits is the smallest */
    size_t order[TP_PRODUCER_MAX_POOLS];
    for (size_t i = 0; i < pool_count; i++)
    {
        order[i] = i;
    }
    for (size_t i = 1; i < pool_count; i++)
    {
        for (size_t j = i; j > 0 && pools[order[j]].stride_bytes < pools[order[j - 1]].stride_bytes; j--)
        {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    for (size_t k = 0; k < pool_count; k++)
    {
        const tp_pool_config_t *pc = &pools[order[k]];
        params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        params.pool_id = pc->pool_id;
        params.stride_bytes = pc->stride_bytes;
        if (tp_shm_pool_path(file, sizeof(file), r->epoch_dir, pc->pool_id) < 0 ||
            tp_shm_region_create(&r->pools[k], file, &params, &opts) < 0 ||
            tp_shm_uri_format(file, false, r->pool_uris[k], sizeof(r->pool_uris[k])) < 0)
        {
            tp_err_prepend("producer: pool %u", pc->pool_id);
            r->pool_count = NULL != r->pools[k] ? k + 1 : k;
            regions_free(r, true);
            return NULL;
        }
        r->strides[k] = pc->stride_bytes;
        r->pool_ids[k] = pc->pool_id;
        r->pool_count = k + 1;
    }
    return r;
}

/* Claims in flight for a ring of `nslots` (documented clamp to nslots / 2). */
static uint32_t effective_max_claims(const tp_producer_config_t *config, uint32_t nslots)
{
    uint32_t m = config->max_claims ? config->max_claims : 1;
    if (m > nslots / 2)
    {
        m = nslots > 1 ? nslots / 2 : 1;
    }
    return m;
}

static int add_pub(tp_producer_t *p, tp_stream_kind_t kind, tp_publication_t **dst)
{
    tp_pending_adds_t *pa = &p->pending;
    if (tp_transport_async_add_publication(&pa->pub_async[pa->pub_count], p->client->transport,
            p->client->ctx.channel[kind], p->client->ctx.stream_id[kind]) < 0)
    {
        return -1;
    }
    pa->pub_dst[pa->pub_count++] = dst;
    return 0;
}

static int add_sub(tp_producer_t *p, tp_stream_kind_t kind, tp_subscription_t **dst)
{
    tp_pending_adds_t *pa = &p->pending;
    if (tp_transport_async_add_subscription(&pa->sub_async[pa->sub_count], p->client->transport,
            p->client->ctx.channel[kind], p->client->ctx.stream_id[kind], NULL, NULL, NULL, NULL) < 0)
    {
        return -1;
    }
    pa->sub_dst[pa->sub_count++] = dst;
    return 0;
}

int tp_producer_create(tp_producer_t **out, tp_client_t *client, const tp_producer_config_t *config)
{
    if (validate_config(config) < 0)
    {
        return -1;
    }
    tp_producer_t *p = calloc(1, sizeof(*p));
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
    }
    p->client = client;
    p->config = *config;
    p->config.name[TP_PRODUCER_NAME_MAX - 1] = '\0';
    if (0 == p->config.producer_id)
    {
        p->config.producer_id = (uint32_t)getpid();
    }
    p->max_claims = effective_max_claims(config, config->header_nslots);
    p->entries_capacity = p->max_claims;
    p->entries = calloc(p->max_claims, sizeof(*p->entries));
    p->encode_buffer = malloc(TP_PRODUCER_ENCODE_BUFFER);
    p->fanout = calloc(TP_FANOUT_CAPACITY, sizeof(*p->fanout));
    p->progress_ring = calloc(TP_PROGRESS_RING_CAPACITY, sizeof(*p->progress_ring));
    atomic_store(&p->progress_interval_ns, TP_PROGRESS_DEFAULT_INTERVAL_NS);
    atomic_store(&p->progress_bytes_delta, TP_PROGRESS_DEFAULT_BYTES);
    if (NULL == p->entries || NULL == p->encode_buffer || NULL == p->fanout || NULL == p->progress_ring)
    {
        tp_producer_destroy(p);
        return tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
    }
    p->regions = create_regions(p, config->header_nslots, config->pool_count, config->pools, 1);
    p->hot = p->regions;
    if (NULL == p->regions)
    {
        int code = tp_errcode();
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tp_errmsg());
        tp_producer_destroy(p);
        return tp_err_set(code, "%s", msg);
    }
    atomic_store(&p->epoch, p->regions->epoch);
    atomic_store(&p->applied_epoch, p->regions->epoch);
    bool same = tp_context_same_stream(&client->ctx, TP_STREAM_CONTROL, TP_STREAM_ANNOUNCE);
    if (add_pub(p, TP_STREAM_DESCRIPTOR, &p->pub_descriptor) < 0 || add_pub(p, TP_STREAM_CONTROL, &p->pub_control) < 0 ||
        (!same && add_pub(p, TP_STREAM_ANNOUNCE, &p->pub_announce) < 0) ||
        add_pub(p, TP_STREAM_QOS, &p->pub_qos) < 0 || add_pub(p, TP_STREAM_METADATA, &p->pub_metadata) < 0 ||
        add_sub(p, TP_STREAM_CONTROL, &p->sub_control) < 0 || add_sub(p, TP_STREAM_QOS, &p->sub_qos) < 0)
    {
        int code = tp_errcode();
        char msg[512];
        snprintf(msg, sizeof(msg), "producer: %s", tp_errmsg());
        tp_producer_destroy(p);
        return tp_err_set(code, "%s", msg);
    }
    *out = p;
    return 0;
}

static int send_announce(tp_producer_t *p, uint64_t now_ns);
static int apply_pending_layout(tp_producer_t *p, uint64_t now_ns);

int tp_producer_poll_ready(tp_producer_t *p)
{
    int rc = tp_pending_adds_poll(&p->pending);
    if (1 != rc)
    {
        return rc;
    }
    if (NULL == p->pub_announce)
    {
        p->pub_announce = p->pub_control;
    }
    p->active = true;
    /* the first announce precedes the first descriptor */
    uint64_t now = tp_clock_mono_ns();
    send_announce(p, now);
    p->next_announce_ns = now + p->client->ctx.announce_period_ns;
    p->meta_dirty = true; /* DataSourceAnnounce on the next duty cycle */
    return 1;
}

static void meta_free(tp_producer_meta_t *m)
{
    if (NULL == m)
    {
        return;
    }
    for (size_t i = 0; i < m->count; i++)
    {
        free(m->keys[i]);
        free(m->formats[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->formats);
    free(m->values);
    free(m->lengths);
    free(m);
}

void tp_producer_metadata_free(void *payload)
{
    meta_free(payload);
}

void tp_producer_destroy(tp_producer_t *p)
{
    if (NULL == p)
    {
        return;
    }
    p->active = false;
    /* adds still pending are handed to the client, which closes them once they complete */
    tp_pending_adds_release(p->client, &p->pending);
    if (p->pub_announce != p->pub_control)
    {
        tp_publication_close(p->pub_announce);
    }
    tp_publication_close(p->pub_descriptor);
    tp_publication_close(p->pub_control);
    tp_publication_close(p->pub_qos);
    tp_publication_close(p->pub_metadata);
    tp_subscription_close(p->sub_control);
    tp_subscription_close(p->sub_qos);
    if (p->hot != p->regions)
    {
        regions_free(p->hot, true); /* not reachable in practice: the hot path switches after the conductor */
    }
    regions_free(p->regions, p->config.remove_on_close);
    regions_free(atomic_exchange(&p->pending_regions, NULL), true);
    while (NULL != p->retired)
    {
        tp_producer_regions_t *r = p->retired;
        p->retired = r->next;
        regions_free(r, true); /* superseded epochs are never kept */
    }
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        tp_client_release_publication_add(p->client, p->consumers[i].desc.async);
        tp_client_release_publication_add(p->client, p->consumers[i].ctl.async);
        tp_publication_close(p->consumers[i].desc.pub);
        tp_publication_close(p->consumers[i].ctl.pub);
    }
    meta_free(p->meta);
    free(p->blob);
    free(p->entries);
    free(p->encode_buffer);
    free(p->fanout);
    free(p->progress_ring);
    free(p);
}

int tp_producer_close(tp_producer_t *producer)
{
    if (NULL == producer)
    {
        return 0;
    }
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == cmd)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_producer_close: out of memory");
    }
    cmd->type = TP_CMD_CLOSE_PRODUCER;
    cmd->target = producer;
    return tp_client_submit_and_wait(producer->client, cmd);
}

/* ------------------------------------------------------------------------- */
/* Hot path                                                                   */
/* ------------------------------------------------------------------------- */

static inline int select_pool(const tp_producer_t *p, size_t length)
{
    for (size_t i = 0; i < p->hot->pool_count; i++)
    {
        if (length <= p->hot->strides[i])
        {
            return (int)i;
        }
    }
    return -1;
}

/* Rare path (not steady state): count the drop and say what to configure. No allocation. */
static int64_t no_pool(tp_producer_t *p, size_t length)
{
    tp_counter_add(&p->no_pool_drops, 1);
    size_t n = p->hot->pool_count;
    tp_err_set(TP_ERR_INVALID_ARGUMENT,
        "payload of %zu bytes is larger than the largest pool stride (%u bytes, pool id %u) of stream %u: frame "
        "dropped; configure a pool with stride_bytes >= %zu (tp_producer_config_t.pools, multiple of 64)",
        length, n > 0 ? p->hot->strides[n - 1] : 0u, n > 0 ? (unsigned)p->hot->pool_ids[n - 1] : 0u,
        p->config.stream_id, length);
    return TP_PRODUCER_NO_POOL;
}

/* Claim the descriptor's space. 1: claimed, 0: not connected (no claim), <0: TP_PRODUCER_* code. */
static int64_t claim_descriptor(tp_producer_t *p, tp_buffer_claim_t *claim)
{
    for (int i = 0; i < TP_ADMIN_RETRIES; i++)
    {
        int64_t rc = tp_publication_try_claim(p->pub_descriptor, TP_DESCRIPTOR_LENGTH, claim);
        if (rc > 0)
        {
            return 1;
        }
        switch (rc)
        {
            case TP_PUBLICATION_NOT_CONNECTED:
                return 0;
            case TP_PUBLICATION_ADMIN_ACTION:
                tp_counter_add(&p->admin_action_retries, 1);
                continue;
            case TP_PUBLICATION_BACK_PRESSURED:
                return TP_PRODUCER_BACK_PRESSURED;
            case TP_PUBLICATION_CLOSED:
                return TP_PRODUCER_CLOSED;
            default:
                tp_err_set(TP_ERR_IO, "descriptor publication failed (%lld)", (long long)rc);
                return TP_PRODUCER_ERROR;
        }
    }
    return TP_PRODUCER_BACK_PRESSURED; /* persistent admin action: nothing was done, retry */
}

/* FrameDescriptor with its message header into buf (hot path and per-consumer fan-out). */
static void encode_descriptor(const tp_producer_t *p, uint8_t *buf, size_t len, uint64_t epoch, uint64_t seq,
    uint32_t meta_version, uint64_t trace_id)
{
    tp_sbe_wire_frame_descriptor_t m = { 0 };
    tp_sbe_wire_frame_descriptor_wrap_and_apply_header(&m, buf, 0, len);
    tp_sbe_wire_frame_descriptor_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_frame_descriptor_set_epoch(&m, epoch);
    tp_sbe_wire_frame_descriptor_set_seq(&m, seq);
    tp_sbe_wire_frame_descriptor_set_timestamp_ns(&m, p->config.descriptor_timestamp
            ? tp_clock_mono_ns()
            : TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_NULL_VALUE);
    tp_sbe_wire_frame_descriptor_set_meta_version(&m, meta_version);
    tp_sbe_wire_frame_descriptor_set_trace_id(&m, trace_id);
}

/* FrameProgress with its message header into buf (shared control stream and per-consumer fan-out). */
static void encode_progress(const tp_producer_t *p, uint8_t *buf, size_t len, uint64_t epoch, uint64_t seq,
    uint64_t bytes_filled, int state)
{
    tp_sbe_wire_frame_progress_t m = { 0 };
    tp_sbe_wire_frame_progress_wrap_and_apply_header(&m, buf, 0, len);
    tp_sbe_wire_frame_progress_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_frame_progress_set_epoch(&m, epoch);
    tp_sbe_wire_frame_progress_set_seq(&m, seq);
    tp_sbe_wire_frame_progress_set_payload_bytes_filled(&m, bytes_filled);
    tp_sbe_wire_frame_progress_set_state(&m, (tp_sbe_wire_frame_progress_state_t)state);
}

/* Header written, seq_commit set, descriptor committed (or dropped when not connected). */
static void publish_entry(tp_producer_t *p, tp_producer_entry_t *e, tp_buffer_claim_t *claim, bool connected)
{
    tp_shm_slot_write_header(p->hot->ring, e->seq, &e->header); /* validated before; cannot fail */
    tp_shm_slot_write_commit(p->hot->ring, e->seq);
    if (connected)
    {
        encode_descriptor(p, claim->data, claim->length, p->hot->epoch, e->seq, e->header.meta_version, e->trace_id);
        if (tp_buffer_claim_commit(claim) < 0)
        {
            /* the slot is committed, its descriptor lost: consumers see a gap */
            tp_counter_add(&p->descriptors_failed, 1);
        }
        else
        {
            tp_counter_add(&p->descriptors_published, 1);
        }
    }
    else
    {
        tp_counter_add(&p->descriptors_not_connected, 1);
    }
    tp_counter_add(&p->frames, 1);
    tp_counter_add(&p->bytes, e->length);
    atomic_store_explicit(&p->current_seq, e->seq + 1, memory_order_release);
    if (atomic_load_explicit(&p->fanout_active, memory_order_relaxed))
    {
        uint64_t tail = atomic_load_explicit(&p->fanout_tail, memory_order_relaxed);
        if (tail - atomic_load_explicit(&p->fanout_head, memory_order_acquire) < TP_FANOUT_CAPACITY)
        {
            tp_fanout_entry_t *f = &p->fanout[tail & (TP_FANOUT_CAPACITY - 1)];
            f->epoch = p->hot->epoch;
            f->seq = e->seq;
            f->trace_id = e->trace_id;
            f->meta_version = e->header.meta_version;
            atomic_store_explicit(&p->fanout_tail, tail + 1, memory_order_release);
        }
        else
        {
            tp_counter_add(&p->fanout_overflow, 1);
        }
    }
}

/* Publish ready entries in order. Returns count published, or a negative TP_PRODUCER_* code. */
static int64_t flush_entries(tp_producer_t *p)
{
    int64_t published = 0;
    while (p->count > 0 && p->entries[p->head].ready)
    {
        tp_producer_entry_t *e = &p->entries[p->head];
        if (!e->aborted)
        {
            tp_buffer_claim_t claim;
            int64_t rc = claim_descriptor(p, &claim);
            if (rc < 0)
            {
                if (TP_PRODUCER_BACK_PRESSURED == rc)
                {
                    tp_counter_add(&p->back_pressured, 1);
                }
                return rc;
            }
            publish_entry(p, e, &claim, 1 == rc);
            published++;
        }
        p->head = (p->head + 1) % p->max_claims;
        p->count--;
    }
    return published;
}

static int fill_header(tp_producer_t *p, tp_producer_entry_t *e, const tp_tensor_header_t *tensor, size_t length,
    const tp_frame_options_t *options)
{
    tp_shm_slot_header_t *h = &e->header;
    if (NULL == tensor)
    {
        if (length > INT32_MAX)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "a payload of %zu bytes needs an explicit tensor header", length);
        }
        memset(&h->tensor, 0, sizeof(h->tensor));
        h->tensor.dtype = TP_DTYPE_UINT8;
        h->tensor.major_order = TP_MAJOR_ORDER_ROW;
        h->tensor.ndims = 1;
        h->tensor.progress_unit = TP_PROGRESS_UNIT_NONE;
        h->tensor.dims[0] = (int32_t)length;
    }
    else
    {
        if (TP_DROP_NONE != tp_tensor_header_check(tensor, length, NULL))
        {
            return tp_tensor_header_validate(tensor, length);
        }
        h->tensor = *tensor;
    }
    h->seq_commit = 0;
    h->values_len_bytes = (uint32_t)length;
    h->payload_slot = tp_shm_header_index(e->seq, p->hot->header_nslots);
    h->pool_id = p->hot->pool_ids[e->pool_index];
    h->payload_offset = 0;
    h->timestamp_ns = (options && options->timestamp_ns) ? options->timestamp_ns : tp_clock_mono_ns();
    h->meta_version = atomic_load_explicit(&p->meta_version, memory_order_relaxed);
    e->trace_id = options ? options->trace_id : 0;
    e->length = length;
    return 0;
}

static int check_tensor(const tp_tensor_header_t *tensor, size_t length)
{
    if (NULL == tensor)
    {
        return length > INT32_MAX ? tp_err_set(TP_ERR_INVALID_ARGUMENT,
                                        "a payload of %zu bytes needs an explicit tensor header", length)
                                  : 0;
    }
    if (TP_DROP_NONE != tp_tensor_header_check(tensor, length, NULL))
    {
        return tp_tensor_header_validate(tensor, length);
    }
    return 0;
}

int64_t tp_producer_offer(tp_producer_t *p, const tp_tensor_header_t *tensor, const void *payload, size_t length,
    const tp_frame_options_t *options)
{
    if (NULL == p || !p->active)
    {
        return TP_PRODUCER_CLOSED;
    }
    if (NULL == payload && length > 0)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_offer: payload is NULL");
        return TP_PRODUCER_ERROR;
    }
    if (p->count > 0)
    {
        int64_t f = flush_entries(p);
        if (f < 0)
        {
            return f;
        }
    }
    int pool = select_pool(p, length);
    if (pool < 0)
    {
        return no_pool(p, length);
    }
    if (check_tensor(tensor, length) < 0)
    {
        return TP_PRODUCER_ERROR;
    }
    if (p->count > 0)
    {
        /* claims still open: queue behind them (descriptors go out in sequence order) */
        if (p->count >= p->max_claims)
        {
            return TP_PRODUCER_CLAIMS_FULL;
        }
        tp_producer_entry_t *e = &p->entries[(p->head + p->count) % p->max_claims];
        e->seq = p->next_seq++;
        e->pool_index = (uint32_t)pool;
        e->aborted = false;
        tp_shm_slot_write_begin(p->hot->ring, e->seq);
        if (length > 0) /* payload may be NULL for an empty frame: memcpy(dst, NULL, 0) is undefined */
        {
            memcpy(tp_shm_pool_payload(p->hot->pools[pool], tp_shm_header_index(e->seq, p->hot->header_nslots)),
                payload, length);
        }
        fill_header(p, e, tensor, length, options);
        e->ready = true;
        p->count++;
        return TP_PRODUCER_PENDING;
    }
    /*
     * Write the slot first (in progress, payload) under the next seq WITHOUT taking it, then claim the
     * descriptor space: the claim on the shared descriptor log is held only for header + commit + descriptor,
     * never during the copy (subscribers wait for a claimed but uncommitted frame; a producer preempted past
     * the transport's unblock timeout would make them skip it as a dead writer's hole). Under back pressure the
     * slot stays in progress and next_seq is unchanged: the retry rewrites the same seq (nothing burnt, and no
     * committed slot lacks its descriptor).
     */
    tp_producer_entry_t *e = &p->entries[p->head];
    e->seq = p->next_seq;
    e->pool_index = (uint32_t)pool;
    tp_shm_slot_write_begin(p->hot->ring, e->seq);
    if (length > 0)
    {
        memcpy(tp_shm_pool_payload(p->hot->pools[pool], tp_shm_header_index(e->seq, p->hot->header_nslots)), payload,
            length);
    }
    fill_header(p, e, tensor, length, options);
    tp_buffer_claim_t claim;
    int64_t rc = claim_descriptor(p, &claim);
    if (rc < 0)
    {
        if (TP_PRODUCER_BACK_PRESSURED == rc)
        {
            tp_counter_add(&p->back_pressured, 1);
        }
        return rc;
    }
    p->next_seq++;
    publish_entry(p, e, &claim, 1 == rc);
    return (int64_t)e->seq;
}

int64_t tp_producer_try_claim(tp_producer_t *p, size_t length, tp_frame_claim_t *claim)
{
    if (NULL == p || !p->active)
    {
        return TP_PRODUCER_CLOSED;
    }
    if (NULL == claim)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_try_claim: claim is NULL");
        return TP_PRODUCER_ERROR;
    }
    int pool = select_pool(p, length);
    if (pool < 0)
    {
        return no_pool(p, length);
    }
    if (p->count >= p->max_claims)
    {
        return TP_PRODUCER_CLAIMS_FULL;
    }
    uint32_t index = (p->head + p->count) % p->max_claims;
    tp_producer_entry_t *e = &p->entries[index];
    e->seq = p->next_seq++;
    e->pool_index = (uint32_t)pool;
    e->ready = false;
    e->aborted = false;
    e->length = length;
    e->progress_started = false;
    e->progress_last_bytes = 0;
    e->progress_reported = 0;
    e->progress_last_ns = 0;
    p->count++;
    uint32_t slot = tp_shm_header_index(e->seq, p->hot->header_nslots);
    tp_shm_slot_write_begin(p->hot->ring, e->seq);
    claim->seq = e->seq;
    claim->data = tp_shm_pool_payload(p->hot->pools[pool], slot);
    claim->capacity = p->hot->strides[pool];
    claim->length = length;
    claim->pool_id = p->hot->pool_ids[pool];
    claim->producer = p;
    claim->index = index;
    return (int64_t)e->seq;
}

static tp_producer_entry_t *claim_entry(tp_frame_claim_t *claim)
{
    if (NULL == claim || NULL == claim->producer)
    {
        tp_err_set(TP_ERR_STATE, "frame claim is not open (already committed or aborted?)");
        return NULL;
    }
    tp_producer_t *p = claim->producer;
    if (claim->index >= p->max_claims || p->entries[claim->index].seq != claim->seq || p->entries[claim->index].ready)
    {
        tp_err_set(TP_ERR_STATE, "frame claim for seq %llu is not open", (unsigned long long)claim->seq);
        return NULL;
    }
    return &p->entries[claim->index];
}

int64_t tp_frame_claim_commit(tp_frame_claim_t *claim, const tp_tensor_header_t *tensor, size_t length,
    const tp_frame_options_t *options)
{
    tp_producer_entry_t *e = claim_entry(claim);
    if (NULL == e)
    {
        return TP_PRODUCER_ERROR;
    }
    tp_producer_t *p = claim->producer;
    if (length > claim->capacity)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "commit length %zu exceeds the claimed slot capacity %zu", length,
            claim->capacity);
        return TP_PRODUCER_ERROR;
    }
    if (check_tensor(tensor, length) < 0)
    {
        return TP_PRODUCER_ERROR;
    }
    fill_header(p, e, tensor, length, options);
    e->ready = true;
    uint64_t seq = claim->seq;
    claim->producer = NULL;
    int64_t f = flush_entries(p);
    if (0 == p->count || p->entries[p->head].seq > seq)
    {
        return (int64_t)seq;
    }
    if (f < 0 && p->entries[p->head].seq == seq && TP_PRODUCER_ERROR != f)
    {
        return f;
    }
    /*
     * The claim is consumed: -1 (TP_PRODUCER_ERROR) would say it was not. A descriptor publication error leaves
     * the frame queued, uncommitted, like back pressure; tp_errmsg() keeps the reason and the next hot-path call
     * or tp_producer_flush() retries (and reports) it.
     */
    return TP_PRODUCER_PENDING;
}

int tp_frame_claim_abort(tp_frame_claim_t *claim)
{
    tp_producer_entry_t *e = claim_entry(claim);
    if (NULL == e)
    {
        return -1;
    }
    tp_producer_t *p = claim->producer;
    tp_counter_add(&p->claims_aborted, 1);
    uint32_t newest = (p->head + p->count - 1) % p->max_claims;
    claim->producer = NULL;
    if (claim->index == newest && e->seq + 1 == p->next_seq)
    {
        /* give the sequence number back; the slot stays "in progress" until it is rewritten */
        p->next_seq--;
        p->count--;
        e->seq = UINT64_MAX;
    }
    else
    {
        e->ready = true;
        e->aborted = true;
    }
    flush_entries(p);
    return 0;
}

int tp_producer_flush(tp_producer_t *p)
{
    if (NULL == p || !p->active)
    {
        return tp_err_set(TP_ERR_CLOSED, "tp_producer_flush: producer closed");
    }
    int64_t rc = flush_entries(p);
    if (rc < 0 && TP_PRODUCER_BACK_PRESSURED != rc)
    {
        return -1;
    }
    return rc < 0 ? 0 : (int)rc;
}

/* ------------------------------------------------------------------------- */
/* Layout change (application thread)                                          */
/* ------------------------------------------------------------------------- */

int tp_producer_layout(const tp_producer_t *p, tp_producer_layout_t *layout)
{
    if (NULL == p || NULL == layout || NULL == p->hot)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_layout: NULL argument");
    }
    memset(layout, 0, sizeof(*layout));
    layout->header_nslots = p->hot->header_nslots;
    layout->pool_count = p->hot->pool_count;
    for (size_t i = 0; i < p->hot->pool_count; i++)
    {
        layout->pools[i].pool_id = p->hot->pool_ids[i];
        layout->pools[i].stride_bytes = p->hot->strides[i];
    }
    return 0;
}

int tp_producer_change_layout(tp_producer_t *p, const tp_producer_layout_t *layout)
{
    if (NULL == p || NULL == layout)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_change_layout: NULL argument");
    }
    if (!p->active)
    {
        return tp_err_set(TP_ERR_CLOSED, "tp_producer_change_layout: producer closed");
    }
    if (validate_layout(layout->header_nslots, layout->pool_count, layout->pools) < 0)
    {
        return tp_err_prepend("tp_producer_change_layout");
    }
    if (p->count > 0)
    {
        flush_entries(p); /* committed frames waiting for descriptor space go out in the old epoch */
    }
    if (p->count > 0)
    {
        return tp_err_set(TP_ERR_STATE,
            "tp_producer_change_layout: %u frame(s) still open or back-pressured: commit/abort the claims or "
            "tp_producer_flush() first", p->count);
    }
    uint32_t max_claims = effective_max_claims(&p->config, layout->header_nslots);
    if (max_claims > p->entries_capacity)
    {
        tp_producer_entry_t *entries = calloc(max_claims, sizeof(*entries));
        if (NULL == entries)
        {
            return tp_err_set(TP_ERR_NO_MEMORY, "tp_producer_change_layout: out of memory");
        }
        free(p->entries);
        p->entries = entries;
        p->entries_capacity = max_claims;
    }
    tp_producer_regions_t *n = create_regions(p, layout->header_nslots, layout->pool_count, layout->pools,
        p->hot->epoch + 1);
    if (NULL == n)
    {
        return tp_err_prepend("tp_producer_change_layout");
    }
    uint64_t epoch = n->epoch;
    tp_client_t *client = p->client;
    atomic_store_explicit(&p->pending_regions, n, memory_order_release);
    if (!atomic_load(&client->threaded))
    {
        apply_pending_layout(p, tp_clock_mono_ns()); /* invoker mode: this thread runs the duty cycle */
    }
    else
    {
        uint64_t deadline = tp_clock_mono_ns() + client->ctx.client_timeout_ns;
        while (atomic_load_explicit(&p->applied_epoch, memory_order_acquire) != epoch)
        {
            if (tp_clock_mono_ns() > deadline)
            {
                tp_producer_regions_t *back = atomic_exchange_explicit(&p->pending_regions, NULL, memory_order_acq_rel);
                if (back == n)
                {
                    regions_free(n, true); /* never announced: the old layout stays in use */
                    return tp_err_set(TP_ERR_TIMEOUT, "tp_producer_change_layout: conductor did not answer within "
                        "%llu ns", (unsigned long long)client->ctx.client_timeout_ns);
                }
                deadline = UINT64_MAX; /* the conductor took it: its answer is a few offers away */
            }
            tp_sleep_ns(50000);
        }
    }
    /* the conductor announced the new epoch: switch the hot path, sequence numbers restart at 0 (§15.2) */
    p->hot = n;
    p->max_claims = max_claims;
    p->head = 0;
    p->count = 0;
    p->next_seq = 0;
    atomic_store_explicit(&p->current_seq, 0, memory_order_release);
    atomic_store(&p->epoch, epoch);
    return 0;
}

int tp_frame_claim_progress(tp_frame_claim_t *claim, uint64_t bytes_filled)
{
    tp_producer_entry_t *e = claim_entry(claim);
    if (NULL == e)
    {
        return -1;
    }
    tp_producer_t *p = claim->producer;
    if (bytes_filled > e->length || bytes_filled < e->progress_reported)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "progress %llu bytes must be monotonic and at most the claimed length %zu (last %llu)",
            (unsigned long long)bytes_filled, e->length, (unsigned long long)e->progress_reported);
    }
    e->progress_reported = bytes_filled;
    if (!atomic_load_explicit(&p->progress_enabled, memory_order_relaxed))
    {
        return 0;
    }
    uint64_t now = tp_clock_mono_ns();
    uint8_t state = TP_SBE_WIRE_FRAME_PROGRESS_STATE_PROGRESS;
    if (!e->progress_started)
    {
        state = TP_SBE_WIRE_FRAME_PROGRESS_STATE_STARTED;
    }
    else if (bytes_filled == e->length)
    {
        state = TP_SBE_WIRE_FRAME_PROGRESS_STATE_COMPLETE;
    }
    else if (now - e->progress_last_ns < atomic_load_explicit(&p->progress_interval_ns, memory_order_relaxed) ||
        bytes_filled - e->progress_last_bytes < atomic_load_explicit(&p->progress_bytes_delta, memory_order_relaxed))
    {
        return 0;
    }
    bool sent = false;
    if (atomic_load_explicit(&p->progress_shared, memory_order_relaxed))
    {
        uint8_t buf[TP_PROGRESS_LENGTH];
        encode_progress(p, buf, sizeof(buf), p->hot->epoch, e->seq, bytes_filled, state);
        sent = tp_publication_offer(p->pub_control, buf, sizeof(buf), NULL, NULL) > 0;
    }
    if (atomic_load_explicit(&p->progress_fanout_active, memory_order_relaxed))
    {
        /* per-consumer control streams belong to the conductor: hand the hint over (SPSC) */
        uint64_t tail = atomic_load_explicit(&p->progress_tail, memory_order_relaxed);
        if (tail - atomic_load_explicit(&p->progress_head, memory_order_acquire) < TP_PROGRESS_RING_CAPACITY)
        {
            tp_progress_entry_t *pe = &p->progress_ring[tail & (TP_PROGRESS_RING_CAPACITY - 1)];
            pe->epoch = p->hot->epoch;
            pe->seq = e->seq;
            pe->bytes_filled = bytes_filled;
            pe->state = state;
            atomic_store_explicit(&p->progress_tail, tail + 1, memory_order_release);
            sent = true;
        }
    }
    if (!sent)
    {
        return 0; /* progress is best effort: the descriptor stays the canonical signal */
    }
    e->progress_started = true;
    e->progress_last_ns = now;
    e->progress_last_bytes = bytes_filled;
    tp_counter_add(&p->progress_sent, 1);
    return 1;
}

/* ------------------------------------------------------------------------- */
/* Metadata                                                                   */
/* ------------------------------------------------------------------------- */

int64_t tp_producer_set_metadata(tp_producer_t *p, size_t count, const char *const *keys, const char *const *formats,
    const uint8_t *const *values, const uint32_t *value_lengths)
{
    if (NULL == p || (count > 0 && (NULL == keys || NULL == formats || NULL == values || NULL == value_lengths)))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_metadata: NULL argument");
    }
    if (count > 1024)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_metadata: at most 1024 attributes");
    }
    tp_producer_meta_t *m = calloc(1, sizeof(*m));
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == m || NULL == cmd)
    {
        free(m);
        free(cmd);
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    m->count = count;
    m->keys = calloc(count + 1, sizeof(char *));
    m->formats = calloc(count + 1, sizeof(char *));
    m->values = calloc(count + 1, sizeof(uint8_t *));
    m->lengths = calloc(count + 1, sizeof(uint32_t));
    bool ok = m->keys && m->formats && m->values && m->lengths;
    for (size_t i = 0; ok && i < count; i++)
    {
        m->keys[i] = strdup(keys[i] ? keys[i] : "");
        m->formats[i] = strdup(formats[i] ? formats[i] : "");
        m->values[i] = malloc(value_lengths[i] ? value_lengths[i] : 1);
        m->lengths[i] = value_lengths[i];
        ok = m->keys[i] && m->formats[i] && m->values[i];
        if (ok && value_lengths[i])
        {
            memcpy(m->values[i], values[i], value_lengths[i]);
        }
    }
    if (!ok)
    {
        meta_free(m);
        free(cmd);
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    m->meta_version = atomic_fetch_add(&p->meta_version, 1) + 1;
    cmd->type = TP_CMD_SET_METADATA;
    cmd->target = p;
    cmd->payload = m;
    if (tp_client_submit_and_wait(p->client, cmd) < 0)
    {
        return -1;
    }
    return m->meta_version;
}

uint32_t tp_crc32c(const void *data, size_t length)
{
    static uint32_t table[256];
    static _Atomic int ready = 0;
    if (!atomic_load_explicit(&ready, memory_order_acquire))
    {
        for (uint32_t i = 0; i < 256; i++)
        {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            }
            table[i] = c; /* idempotent: concurrent initialisers write the same values */
        }
        atomic_store_explicit(&ready, 1, memory_order_release);
    }
    const uint8_t *b = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < length; i++)
    {
        crc = table[(crc ^ b[i]) & 0xFFu] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

int tp_producer_publish_meta_blob(tp_producer_t *p, uint32_t blob_type, const void *data, size_t length)
{
    if (NULL == p || (NULL == data && length > 0))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_publish_meta_blob: NULL argument");
    }
    if (length > TP_META_BLOB_MAX_BYTES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "meta blob of %zu bytes exceeds the %llu-byte limit", length,
            (unsigned long long)TP_META_BLOB_MAX_BYTES);
    }
    tp_producer_blob_t *b = malloc(sizeof(*b) + (length ? length : 1));
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == b || NULL == cmd)
    {
        free(b);
        free(cmd);
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(b->data, data, length);
    b->length = length;
    b->offset = 0;
    b->blob_type = blob_type;
    b->meta_version = atomic_load(&p->meta_version);
    b->checksum = tp_crc32c(b->data, length);
    b->announced = false;
    cmd->type = TP_CMD_META_BLOB;
    cmd->target = p;
    cmd->payload = b;
    return tp_client_submit_and_wait(p->client, cmd);
}

/* Send the pending blob: announce, chunks (as many as the stream takes), complete. */
static int send_blob(tp_producer_t *p)
{
    tp_producer_blob_t *b = p->blob;
    int work = 0;
    uint8_t *buf = p->encode_buffer;
    size_t chunk_max = TP_META_BLOB_CHUNK_MAX;
    size_t max_msg = tp_publication_max_message_length(p->pub_metadata);
    if (max_msg < chunk_max + 64)
    {
        chunk_max = max_msg > 128 ? max_msg - 64 : 64;
    }
    if (!b->announced)
    {
        tp_sbe_wire_meta_blob_announce_t m = { 0 };
        tp_sbe_wire_meta_blob_announce_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
        tp_sbe_wire_meta_blob_announce_set_stream_id(&m, p->config.stream_id);
        tp_sbe_wire_meta_blob_announce_set_meta_version(&m, b->meta_version);
        tp_sbe_wire_meta_blob_announce_set_blob_type(&m, b->blob_type);
        tp_sbe_wire_meta_blob_announce_set_total_len(&m, b->length);
        tp_sbe_wire_meta_blob_announce_set_checksum(&m, b->checksum);
        if (tp_publication_offer(p->pub_metadata, buf,
                TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_meta_blob_announce_encoded_length(&m), NULL, NULL) <= 0)
        {
            return 0; /* retried next duty cycle */
        }
        b->announced = true;
        work++;
    }
    for (int i = 0; i < 16 && b->offset < b->length; i++)
    {
        size_t n = b->length - b->offset < chunk_max ? (size_t)(b->length - b->offset) : chunk_max;
        tp_sbe_wire_meta_blob_chunk_t m = { 0 };
        tp_sbe_wire_meta_blob_chunk_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
        tp_sbe_wire_meta_blob_chunk_set_stream_id(&m, p->config.stream_id);
        tp_sbe_wire_meta_blob_chunk_set_meta_version(&m, b->meta_version);
        tp_sbe_wire_meta_blob_chunk_set_chunk_offset(&m, b->offset);
        tp_sbe_wire_meta_blob_chunk_put_bytes(&m, b->data + b->offset, (uint32_t)n);
        if (tp_publication_offer(p->pub_metadata, buf,
                TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_meta_blob_chunk_encoded_length(&m), NULL, NULL) <= 0)
        {
            return work;
        }
        b->offset += n;
        work++;
    }
    if (b->offset >= b->length)
    {
        tp_sbe_wire_meta_blob_complete_t m = { 0 };
        tp_sbe_wire_meta_blob_complete_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
        tp_sbe_wire_meta_blob_complete_set_stream_id(&m, p->config.stream_id);
        tp_sbe_wire_meta_blob_complete_set_meta_version(&m, b->meta_version);
        tp_sbe_wire_meta_blob_complete_set_checksum(&m, b->checksum);
        if (tp_publication_offer(p->pub_metadata, buf,
                TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_meta_blob_complete_encoded_length(&m), NULL, NULL) > 0)
        {
            free(p->blob);
            p->blob = NULL;
            tp_counter_add(&p->meta_blobs_sent, 1);
            work++;
        }
    }
    return work;
}

void tp_producer_apply_meta_blob(tp_producer_t *p, void *blob)
{
    free(p->blob); /* a blob still being sent is superseded */
    p->blob = blob;
}

void tp_producer_apply_metadata(tp_producer_t *p, void *payload)
{
    meta_free(p->meta);
    p->meta = payload;
    p->meta_dirty = true;
}

/* ------------------------------------------------------------------------- */
/* Control plane (conductor)                                                  */
/* ------------------------------------------------------------------------- */

static void offer_control(tp_producer_t *p, tp_publication_t *pub, const uint8_t *buf, size_t len)
{
    for (int i = 0; i < TP_ADMIN_RETRIES; i++)
    {
        int64_t rc = tp_publication_offer(pub, buf, len, NULL, NULL);
        if (TP_PUBLICATION_ADMIN_ACTION != rc)
        {
            if (rc < 0 && TP_PUBLICATION_NOT_CONNECTED != rc && TP_PUBLICATION_BACK_PRESSURED != rc)
            {
                tp_err_set(TP_ERR_IO, "offer on stream %d failed (%lld)", tp_publication_stream_id(pub), (long long)rc);
                tp_client_report_error(p->client, "producer control plane");
            }
            return;
        }
    }
}

static int send_announce(tp_producer_t *p, uint64_t now_ns)
{
    const tp_producer_regions_t *r = p->regions;
    tp_shm_region_refresh_activity(r->ring, 0);
    for (size_t i = 0; i < r->pool_count; i++)
    {
        tp_shm_region_refresh_activity(r->pools[i], 0);
    }
    tp_sbe_wire_shm_pool_announce_t m = { 0 };
    tp_sbe_wire_shm_pool_announce_payload_pools_t g = { 0 };
    uint8_t *buf = p->encode_buffer;
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER))
    {
        return -1;
    }
    tp_sbe_wire_shm_pool_announce_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_shm_pool_announce_set_producer_id(&m, p->config.producer_id);
    tp_sbe_wire_shm_pool_announce_set_epoch(&m, r->epoch);
    tp_sbe_wire_shm_pool_announce_set_announce_timestamp_ns(&m, now_ns);
    tp_sbe_wire_shm_pool_announce_set_announce_clock_domain(&m, TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC);
    tp_sbe_wire_shm_pool_announce_set_layout_version(&m, TP_SHM_LAYOUT_VERSION);
    tp_sbe_wire_shm_pool_announce_set_header_nslots(&m, r->header_nslots);
    tp_sbe_wire_shm_pool_announce_set_header_slot_bytes(&m, TP_SHM_HEADER_SLOT_BYTES);
    tp_sbe_wire_shm_pool_announce_zero_padding(&m);
    tp_sbe_wire_shm_pool_announce_set_payload_pools_count(&m, &g, (uint16_t)r->pool_count);
    for (size_t i = 0; i < r->pool_count; i++)
    {
        tp_sbe_wire_shm_pool_announce_payload_pools_next(&g);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_id(&g, r->pool_ids[i]);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_nslots(&g, r->header_nslots);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_stride_bytes(&g, r->strides[i]);
        tp_sbe_wire_shm_pool_announce_payload_pools_zero_padding(&g);
        tp_sbe_wire_shm_pool_announce_payload_pools_put_region_uri(&g, r->pool_uris[i], (uint32_t)strlen(r->pool_uris[i]));
    }
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_put_header_region_uri(&m, r->header_uri, (uint32_t)strlen(r->header_uri)))
    {
        return -1;
    }
    offer_control(p, p->pub_announce, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_shm_pool_announce_encoded_length(&m));
    tp_counter_add(&p->announces, 1);
    p->last_announce_ns = now_ns;
    return 0;
}

static void send_data_source(tp_producer_t *p, uint64_t now_ns, bool meta)
{
    uint8_t *buf = p->encode_buffer;
    tp_sbe_wire_data_source_announce_t a = { 0 };
    tp_sbe_wire_data_source_announce_wrap_and_apply_header(&a, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
    tp_sbe_wire_data_source_announce_set_stream_id(&a, p->config.stream_id);
    tp_sbe_wire_data_source_announce_set_producer_id(&a, p->config.producer_id);
    tp_sbe_wire_data_source_announce_set_epoch(&a, p->regions->epoch);
    tp_sbe_wire_data_source_announce_set_meta_version(&a, atomic_load(&p->meta_version));
    tp_sbe_wire_data_source_announce_put_name(&a, p->config.name, (uint32_t)strlen(p->config.name));
    tp_sbe_wire_data_source_announce_put_summary(&a, "", 0);
    offer_control(p, p->pub_metadata, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_data_source_announce_encoded_length(&a));
    if (!meta || NULL == p->meta)
    {
        return;
    }
    tp_sbe_wire_data_source_meta_t m = { 0 };
    tp_sbe_wire_data_source_meta_attributes_t g = { 0 };
    tp_sbe_wire_data_source_meta_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
    tp_sbe_wire_data_source_meta_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_data_source_meta_set_meta_version(&m, p->meta->meta_version);
    tp_sbe_wire_data_source_meta_set_timestamp_ns(&m, now_ns);
    if (TP_SBE_OK != tp_sbe_wire_data_source_meta_set_attributes_count(&m, &g, (uint16_t)p->meta->count))
    {
        return;
    }
    for (size_t i = 0; i < p->meta->count; i++)
    {
        if (TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_next(&g) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_put_key(&g, p->meta->keys[i], (uint32_t)strlen(p->meta->keys[i])) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_put_format(&g, p->meta->formats[i], (uint32_t)strlen(p->meta->formats[i])) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_put_value(&g, p->meta->values[i], p->meta->lengths[i]))
        {
            tp_err_set(TP_ERR_INVALID_ARGUMENT, "metadata does not fit in %u bytes", TP_PRODUCER_ENCODE_BUFFER);
            tp_client_report_error(p->client, "DataSourceMeta");
            return;
        }
    }
    offer_control(p, p->pub_metadata, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_data_source_meta_encoded_length(&m));
}

static void send_qos(tp_producer_t *p)
{
    uint8_t buf[64];
    tp_sbe_wire_qos_producer_t m = { 0 };
    tp_sbe_wire_qos_producer_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_wire_qos_producer_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_qos_producer_set_producer_id(&m, p->config.producer_id);
    tp_sbe_wire_qos_producer_set_epoch(&m, p->regions->epoch);
    tp_sbe_wire_qos_producer_set_current_seq(&m, atomic_load_explicit(&p->current_seq, memory_order_acquire));
    tp_sbe_wire_qos_producer_set_watermark(&m, TP_SBE_WIRE_QOS_PRODUCER_WATERMARK_NULL_VALUE);
    offer_control(p, p->pub_qos, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_qos_producer_encoded_length(&m));
    tp_counter_add(&p->qos_sent, 1);
}

static tp_tracked_consumer_t *track_consumer(tp_producer_t *p, uint32_t consumer_id, uint64_t now_ns)
{
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        if (p->consumers[i].consumer_id == consumer_id)
        {
            p->consumers[i].last_seen_ns = now_ns;
            return &p->consumers[i];
        }
    }
    if (p->consumer_count >= TP_PRODUCER_MAX_TRACKED_CONSUMERS)
    {
        return NULL;
    }
    tp_tracked_consumer_t *c = &p->consumers[p->consumer_count++];
    memset(c, 0, sizeof(*c));
    c->consumer_id = consumer_id;
    c->last_seen_ns = now_ns;
    c->progress_interval_us = UINT32_MAX;
    c->progress_bytes_delta = UINT32_MAX;
    atomic_store(&p->consumers_known, p->consumer_count);
    return c;
}

/* Most aggressive common policy within the producer floors (§10.2.2). */
static void update_progress_policy(tp_producer_t *p)
{
    bool enabled = false;
    uint64_t interval = UINT64_MAX, bytes = UINT64_MAX;
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        const tp_tracked_consumer_t *c = &p->consumers[i];
        if (!c->supports_progress)
        {
            continue;
        }
        enabled = true;
        if (c->progress_interval_us != UINT32_MAX && (uint64_t)c->progress_interval_us * 1000 < interval)
        {
            interval = (uint64_t)c->progress_interval_us * 1000;
        }
        if (c->progress_bytes_delta != UINT32_MAX && c->progress_bytes_delta < bytes)
        {
            bytes = c->progress_bytes_delta;
        }
    }
    interval = interval == UINT64_MAX ? TP_PROGRESS_DEFAULT_INTERVAL_NS
                                      : (interval < TP_PROGRESS_MIN_INTERVAL_NS ? TP_PROGRESS_MIN_INTERVAL_NS : interval);
    bytes = bytes == UINT64_MAX ? TP_PROGRESS_DEFAULT_BYTES : (bytes < TP_PROGRESS_MIN_BYTES ? TP_PROGRESS_MIN_BYTES : bytes);
    atomic_store(&p->progress_interval_ns, interval);
    atomic_store(&p->progress_bytes_delta, bytes);
    atomic_store(&p->progress_enabled, enabled);
}

/* ConsumerConfig: assigned per-consumer streams, or empty channel and 0 id for what was declined (§10.1.3). */
static void send_config(tp_producer_t *p, const tp_tracked_consumer_t *c)
{
    uint8_t buf[2 * TP_CLIENT_CHANNEL_MAX + 128];
    bool d = NULL != c->desc.pub, k = NULL != c->ctl.pub;
    tp_sbe_wire_consumer_config_t m = { 0 };
    tp_sbe_wire_consumer_config_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_wire_consumer_config_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_consumer_config_set_consumer_id(&m, c->consumer_id);
    tp_sbe_wire_consumer_config_set_use_shm(&m, TP_SBE_WIRE_BOOL_TRUE);
    tp_sbe_wire_consumer_config_set_mode(&m,
        TP_SBE_WIRE_MODE_RATE_LIMITED == c->mode ? TP_SBE_WIRE_MODE_RATE_LIMITED : TP_SBE_WIRE_MODE_STREAM);
    tp_sbe_wire_consumer_config_set_descriptor_stream_id(&m, d ? (uint32_t)c->desc.stream_id : 0);
    tp_sbe_wire_consumer_config_set_control_stream_id(&m, k ? (uint32_t)c->ctl.stream_id : 0);
    tp_sbe_wire_consumer_config_zero_padding(&m);
    tp_sbe_wire_consumer_config_put_payload_fallback_uri(&m, "", 0);
    tp_sbe_wire_consumer_config_put_descriptor_channel(&m, d ? c->desc.channel : "", d ? (uint32_t)strlen(c->desc.channel) : 0);
    tp_sbe_wire_consumer_config_put_control_channel(&m, k ? c->ctl.channel : "", k ? (uint32_t)strlen(c->ctl.channel) : 0);
    offer_control(p, p->pub_control, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_consumer_config_encoded_length(&m));
}

static void release_stream(tp_producer_t *p, tp_consumer_stream_t *st)
{
    /* still pending: the client polls it until it completes and closes it */
    tp_client_release_publication_add(p->client, st->async);
    st->async = NULL;
    tp_publication_close(st->pub);
    st->pub = NULL;
    st->channel[0] = '\0';
    st->stream_id = 0;
}

static void release_consumer_stream(tp_producer_t *p, tp_tracked_consumer_t *c)
{
    release_stream(p, &c->desc);
    release_stream(p, &c->ctl);
}

static void update_fanout_active(tp_producer_t *p)
{
    bool desc = false, ctl = false, shared = false;
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        const tp_tracked_consumer_t *c = &p->consumers[i];
        desc = desc || NULL != c->desc.pub;
        if (c->supports_progress)
        {
            ctl = ctl || NULL != c->ctl.pub;
            shared = shared || NULL == c->ctl.pub;
        }
    }
    if (desc && !atomic_load(&p->fanout_active))
    {
        /* start from the current tail: only frames committed from now on are fanned out */
        atomic_store(&p->fanout_head, atomic_load(&p->fanout_tail));
    }
    atomic_store(&p->fanout_active, desc);
    if (ctl && !atomic_load(&p->progress_fanout_active))
    {
        atomic_store(&p->progress_head, atomic_load(&p->progress_tail));
    }
    atomic_store(&p->progress_fanout_active, ctl);
    atomic_store(&p->progress_shared, shared);
}

/*
 * One per-consumer stream request (§5, §10.1.2): both a channel and a
 * non-zero stream id, an Aeron channel, not one of the shared streams.
 * Returns true when a ConsumerConfig should be sent now (declined, or an
 * idempotent re-assignment).
 */
static bool handle_stream_request(tp_producer_t *p, tp_consumer_stream_t *st, const char *ch, uint32_t len,
    uint32_t sid)
{
    const tp_context_t *ctx = &p->client->ctx;
    if (0 == len && 0 == sid)
    {
        if (NULL != st->pub || NULL != st->async)
        {
            release_stream(p, st); /* no longer requested */
        }
        return false;
    }
    char channel[TP_CLIENT_CHANNEL_MAX];
    bool valid = len > 0 && len < sizeof(channel) && sid != 0 && sid <= INT32_MAX;
    if (valid)
    {
        memcpy(channel, ch, len);
        channel[len] = '\0';
        valid = 0 == strncmp(channel, "aeron:", 6);
        for (int k = 0; valid && k < TP_STREAM_KIND_COUNT; k++)
        {
            valid = !(ctx->stream_id[k] == (int32_t)sid && 0 == strcmp(ctx->channel[k], channel));
        }
        valid = valid && channel_allowed(p, channel);
    }
    if (!valid)
    {
        release_stream(p, st);
        return true;
    }
    if ((NULL != st->pub || NULL != st->async) && st->stream_id == (int32_t)sid && 0 == strcmp(st->channel, channel))
    {
        return NULL != st->pub;
    }
    release_stream(p, st);
    snprintf(st->channel, sizeof(st->channel), "%s", channel);
    st->stream_id = (int32_t)sid;
    if (tp_transport_async_add_publication(&st->async, p->client->transport, st->channel, st->stream_id) < 0)
    {
        st->async = NULL;
        release_stream(p, st);
        return true;
    }
    return false;
}

/* Complete a pending per-consumer publication: 1 when it finished (either way), 0 pending. */
static int poll_stream(tp_producer_t *p, tp_consumer_stream_t *st)
{
    if (NULL == st->async)
    {
        return 0;
    }
    int rc = tp_transport_async_add_publication_poll(&st->pub, st->async);
    if (0 == rc)
    {
        return 0;
    }
    st->async = NULL;
    if (1 != rc)
    {
        st->pub = NULL;
        release_stream(p, st);
    }
    return 1;
}

/* Conductor: complete pending per-consumer publications, then fan committed frames and progress out. */
static int fanout_work(tp_producer_t *p, uint64_t now_ns)
{
    int work = 0;
    bool changed = false;
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        tp_tracked_consumer_t *c = &p->consumers[i];
        int done = poll_stream(p, &c->desc) + poll_stream(p, &c->ctl);
        if (done > 0)
        {
            work++;
            changed = true;
            if (NULL == c->desc.async && NULL == c->ctl.async)
            {
                send_config(p, c);
            }
        }
    }
    if (changed)
    {
        update_fanout_active(p);
    }
    if (atomic_load_explicit(&p->progress_fanout_active, memory_order_relaxed))
    {
        uint64_t head = atomic_load_explicit(&p->progress_head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&p->progress_tail, memory_order_acquire);
        for (; head != tail; head++)
        {
            const tp_progress_entry_t *pe = &p->progress_ring[head & (TP_PROGRESS_RING_CAPACITY - 1)];
            uint8_t buf[TP_PROGRESS_LENGTH];
            encode_progress(p, buf, sizeof(buf), pe->epoch, pe->seq, pe->bytes_filled, (int)pe->state);
            for (size_t i = 0; i < p->consumer_count; i++)
            {
                if (NULL != p->consumers[i].ctl.pub && p->consumers[i].supports_progress)
                {
                    offer_control(p, p->consumers[i].ctl.pub, buf, sizeof(buf));
                }
            }
            work++;
        }
        atomic_store_explicit(&p->progress_head, head, memory_order_release);
    }
    if (!atomic_load_explicit(&p->fanout_active, memory_order_relaxed))
    {
        return work;
    }
    uint64_t head = atomic_load_explicit(&p->fanout_head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&p->fanout_tail, memory_order_acquire);
    for (; head != tail; head++)
    {
        const tp_fanout_entry_t *f = &p->fanout[head & (TP_FANOUT_CAPACITY - 1)];
        uint8_t buf[TP_DESCRIPTOR_LENGTH];
        encode_descriptor(p, buf, sizeof(buf), f->epoch, f->seq, f->meta_version, f->trace_id);
        for (size_t i = 0; i < p->consumer_count; i++)
        {
            tp_tracked_consumer_t *c = &p->consumers[i];
            if (NULL == c->desc.pub)
            {
                continue;
            }
            if (c->max_rate_hz > 0)
            {
                if (now_ns < c->next_allowed_ns)
                {
                    tp_counter_add(&p->per_consumer_rate_limited, 1);
                    continue;
                }
                c->next_allowed_ns = now_ns + UINT64_C(1000000000) / c->max_rate_hz;
            }
            offer_control(p, c->desc.pub, buf, sizeof(buf));
            tp_counter_add(&p->per_consumer_descriptors, 1);
        }
        work++;
    }
    atomic_store_explicit(&p->fanout_head, head, memory_order_release);
    return work;
}

static void on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_producer_t *p = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_peek_header(buffer, length, &h) < 0 || h.schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        return;
    }
    uint64_t now = tp_clock_mono_ns();
    if (TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID == h.template_id)
    {
        tp_sbe_wire_consumer_hello_t m = { 0 };
        if (TP_SBE_OK != tp_sbe_wire_consumer_hello_wrap_for_decode_with_header(&m, buffer, 0, length) ||
            tp_sbe_wire_consumer_hello_stream_id(&m) != p->config.stream_id)
        {
            return;
        }
        const char *dch = NULL, *cch = NULL;
        uint32_t dlen = 0, clen = 0;
        if (TP_SBE_OK != tp_sbe_wire_consumer_hello_get_descriptor_channel(&m, &dch, &dlen) ||
            TP_SBE_OK != tp_sbe_wire_consumer_hello_get_control_channel(&m, &cch, &clen))
        {
            return;
        }
        tp_counter_add(&p->hellos_received, 1);
        tp_tracked_consumer_t *c = track_consumer(p, tp_sbe_wire_consumer_hello_consumer_id(&m), now);
        if (NULL == c)
        {
            return;
        }
        c->supports_progress = TP_SBE_WIRE_BOOL_TRUE == tp_sbe_wire_consumer_hello_supports_progress(&m);
        c->progress_interval_us = tp_sbe_wire_consumer_hello_progress_interval_us(&m);
        c->progress_bytes_delta = tp_sbe_wire_consumer_hello_progress_bytes_delta(&m);
        c->max_rate_hz = tp_sbe_wire_consumer_hello_max_rate_hz(&m);
        c->mode = (uint8_t)tp_sbe_wire_consumer_hello_mode(&m);
        update_progress_policy(p);
        bool send = handle_stream_request(p, &c->desc, dch, dlen, tp_sbe_wire_consumer_hello_descriptor_stream_id(&m));
        send = handle_stream_request(p, &c->ctl, cch, clen, tp_sbe_wire_consumer_hello_control_stream_id(&m)) || send;
        if (send && NULL == c->desc.async && NULL == c->ctl.async)
        {
            send_config(p, c);
        }
        update_fanout_active(p);
        if (c->mapped_epoch != p->regions->epoch)
        {
            /* a consumer not (yet) on our epoch, e.g. one that just started and ignores announces older than its
             * join time (§10.1.1): answer with a prompt announce (rate limited) instead of the next period's */
            p->announce_requested = true;
        }
    }
}

static void on_qos(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_producer_t *p = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_peek_header(buffer, length, &h) < 0 || h.schema_id != TP_SBE_WIRE_SCHEMA_ID ||
        h.template_id != TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID)
    {
        return;
    }
    tp_sbe_wire_qos_consumer_t m = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_qos_consumer_wrap_for_decode_with_header(&m, buffer, 0, length) ||
        tp_sbe_wire_qos_consumer_stream_id(&m) != p->config.stream_id)
    {
        return;
    }
    tp_tracked_consumer_t *c = track_consumer(p, tp_sbe_wire_qos_consumer_consumer_id(&m), tp_clock_mono_ns());
    if (NULL != c)
    {
        c->mapped_epoch = tp_sbe_wire_qos_consumer_epoch(&m);
    }
}

/*
 * Conductor (or the application thread inline in invoker mode): take a new
 * layout handed over by tp_producer_change_layout(), announce it at once
 * (§10.1.1 "on change"), with DataSourceAnnounce and QosProducer of the new
 * epoch, and keep the old regions mapped and on disk for the grace period.
 */
static int apply_pending_layout(tp_producer_t *p, uint64_t now_ns)
{
    tp_producer_regions_t *n = atomic_exchange_explicit(&p->pending_regions, NULL, memory_order_acq_rel);
    if (NULL == n)
    {
        return 0;
    }
    const tp_context_t *ctx = &p->client->ctx;
    tp_producer_regions_t *old = p->regions;
    old->retire_at_ns = now_ns + tp_context_freshness_ns(ctx);
    old->next = p->retired;
    p->retired = old;
    p->regions = n;
    atomic_store_explicit(&p->current_seq, 0, memory_order_release); /* the application thread waits meanwhile */
    send_announce(p, now_ns);
    send_data_source(p, now_ns, true);
    p->meta_dirty = false;
    p->announce_requested = false;
    p->next_announce_ns = now_ns + ctx->announce_period_ns;
    send_qos(p);
    p->next_qos_ns = now_ns + ctx->qos_interval_ns;
    tp_counter_add(&p->layout_changes, 1);
    TP_LOG_INFO("producer", "stream %u: layout changed, epoch %llu -> %llu (%u slots, %zu pools)", p->config.stream_id,
        (unsigned long long)old->epoch, (unsigned long long)n->epoch, n->header_nslots, n->pool_count);
    atomic_store_explicit(&p->applied_epoch, n->epoch, memory_order_release);
    return 1;
}

/* Conductor: unmap and remove superseded epochs whose grace period is over. */
static int retire_regions(tp_producer_t *p, uint64_t now_ns)
{
    int work = 0;
    for (tp_producer_regions_t **link = &p->retired; NULL != *link;)
    {
        tp_producer_regions_t *r = *link;
        if (now_ns >= r->retire_at_ns)
        {
            *link = r->next;
            regions_free(r, true);
            work++;
            continue;
        }
        link = &r->next;
    }
    return work;
}

int tp_producer_do_work(tp_producer_t *p, uint64_t now_ns)
{
    if (!p->active)
    {
        return 0;
    }
    int work = 0;
    const tp_context_t *ctx = &p->client->ctx;
    if (NULL != atomic_load_explicit(&p->pending_regions, memory_order_relaxed))
    {
        work += apply_pending_layout(p, now_ns);
    }
    if (NULL != p->retired)
    {
        work += retire_regions(p, now_ns);
    }
    bool connected = tp_publication_is_connected(p->pub_announce);
    if (connected && !p->announce_connected)
    {
        p->announce_requested = true; /* first subscriber appeared */
    }
    p->announce_connected = connected;
    bool prompt = p->announce_requested && now_ns >= p->last_announce_ns + TP_ANNOUNCE_PROMPT_MIN_GAP_NS;
    if (now_ns >= p->next_announce_ns || prompt)
    {
        if (prompt && now_ns < p->next_announce_ns)
        {
            tp_counter_add(&p->prompt_announces, 1);
        }
        p->announce_requested = false;
        send_announce(p, now_ns);
        send_data_source(p, now_ns, true);
        p->meta_dirty = false;
        p->next_announce_ns = now_ns + ctx->announce_period_ns;
        work++;
    }
    else if (p->meta_dirty)
    {
        send_data_source(p, now_ns, true);
        p->meta_dirty = false;
        work++;
    }
    if (now_ns >= p->next_qos_ns)
    {
        send_qos(p);
        p->next_qos_ns = now_ns + ctx->qos_interval_ns;
        work++;
    }
    int rc = tp_subscription_poll(p->sub_control, on_control, p, 16);
    work += rc > 0 ? rc : 0;
    rc = tp_subscription_poll(p->sub_qos, on_qos, p, 16);
    work += rc > 0 ? rc : 0;
    uint64_t stale_ns = tp_context_stale_ns(ctx);
    bool changed = false;
    for (size_t i = 0; i < p->consumer_count;)
    {
        if (now_ns > p->consumers[i].last_seen_ns + stale_ns)
        {
            release_consumer_stream(p, &p->consumers[i]); /* §5: close per-consumer publications of stale consumers */
            p->consumers[i] = p->consumers[--p->consumer_count];
            tp_counter_add(&p->consumers_stale, 1);
            changed = true;
            continue;
        }
        i++;
    }
    if (changed)
    {
        atomic_store(&p->consumers_known, p->consumer_count);
        update_progress_policy(p);
        update_fanout_active(p);
    }
    work += fanout_work(p, now_ns);
    if (NULL != p->blob)
    {
        work += send_blob(p);
    }
    return work;
}

/* ------------------------------------------------------------------------- */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------- */

int tp_producer_stats(const tp_producer_t *producer, tp_producer_stats_t *s)
{
    if (NULL == producer || NULL == s)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_stats: NULL argument");
    }
    tp_producer_t *p = (tp_producer_t *)producer;
    memset(s, 0, sizeof(*s));
    s->frames = tp_counter_get(&p->frames);
    s->bytes = tp_counter_get(&p->bytes);
    s->descriptors_published = tp_counter_get(&p->descriptors_published);
    s->descriptors_not_connected = tp_counter_get(&p->descriptors_not_connected);
    s->descriptors_failed = tp_counter_get(&p->descriptors_failed);
    s->back_pressured = tp_counter_get(&p->back_pressured);
    s->admin_action_retries = tp_counter_get(&p->admin_action_retries);
    s->no_pool_drops = tp_counter_get(&p->no_pool_drops);
    s->claims_aborted = tp_counter_get(&p->claims_aborted);
    s->announces = tp_counter_get(&p->announces);
    s->prompt_announces = tp_counter_get(&p->prompt_announces);
    s->qos_sent = tp_counter_get(&p->qos_sent);
    s->hellos_received = tp_counter_get(&p->hellos_received);
    s->consumers = tp_counter_get(&p->consumers_known);
    s->consumers_stale = tp_counter_get(&p->consumers_stale);
    s->progress_sent = tp_counter_get(&p->progress_sent);
    s->per_consumer_descriptors = tp_counter_get(&p->per_consumer_descriptors);
    s->progress_interval_ns = atomic_load(&p->progress_interval_ns);
    s->progress_bytes_delta = atomic_load(&p->progress_bytes_delta);
    s->per_consumer_rate_limited = tp_counter_get(&p->per_consumer_rate_limited);
    s->fanout_overflow = tp_counter_get(&p->fanout_overflow);
    s->meta_blobs_sent = tp_counter_get(&p->meta_blobs_sent);
    s->current_seq = atomic_load(&p->current_seq);
    s->epoch = atomic_load(&p->epoch);
    s->layout_changes = tp_counter_get(&p->layout_changes);
    s->meta_version = atomic_load(&p->meta_version);
    return 0;
}

uint64_t tp_producer_next_seq(const tp_producer_t *producer)
{
    return producer ? producer->next_seq : 0;
}

uint64_t tp_producer_epoch(const tp_producer_t *producer)
{
    return producer ? atomic_load(&((tp_producer_t *)producer)->epoch) : 0;
}

uint32_t tp_producer_stream_id(const tp_producer_t *producer)
{
    return producer ? producer->config.stream_id : 0;
}

const char *tp_producer_epoch_dir(const tp_producer_t *producer)
{
    return producer && producer->hot ? producer->hot->epoch_dir : "";
}

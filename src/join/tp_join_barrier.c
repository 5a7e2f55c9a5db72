/*
 * Join barriers (Join Barrier spec §6-§9): SEQUENCE, TIMESTAMP and
 * LATEST_VALUE readiness over observed/processed cursors, MergeMap scoping
 * and staleness. See tensor_pool/tp_join.h and docs/JOIN.md.
 *
 * One thread; all state preallocated at creation (inputs indexed by rule
 * order, looked up by a linear scan of at most TP_JOIN_MAX_INPUTS ids).
 */
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"
#include "tensor_pool/tp_join.h"

typedef struct join_input_stct
{
    uint32_t stream_id;
    bool seen;                  /* at least one frame in the current epoch */
    uint64_t epoch;
    uint64_t observed_seq;      /* highest seq observed (valid when seen) */
    bool processed_seen;
    uint64_t processed_seq;
    bool has_time_fd, has_time_slot;
    uint64_t observed_time_fd;  /* highest FrameDescriptor.timestamp_ns */
    uint64_t observed_time_slot;/* highest SlotHeader.timestamp_ns */
    uint64_t processed_time;    /* rule's source; 0 = none */
    bool processed_time_seen;
    bool non_monotonic;         /* timestamps went back in this epoch: rejected for timestamp joins (§8.2) */
    uint64_t last_observed_ns;  /* local monotonic time of the last frame */
    uint64_t latest_seq, latest_trace_id, latest_time_fd, latest_time_slot;
    bool latest_invalid;        /* LATEST_VALUE: selection failed validation */
} join_input_t;

struct tp_join_barrier_stct
{
    tp_join_barrier_config_t config;
    bool has_map;
    bool map_invalid;           /* the last map for our key was invalid */
    bool is_ts_map;
    tp_seq_merge_map_t seq_map;
    tp_ts_merge_map_t ts_map;
    uint64_t map_applied_ns;    /* set on the first readiness question after applying (staleness origin) */
    bool out_time_seen;
    uint64_t last_out_time;
    uint32_t input_count;
    join_input_t inputs[TP_JOIN_MAX_INPUTS];
    tp_join_barrier_stats_t stats;
};

/* ------------------------------------------------------------------ validation */

int tp_seq_merge_map_validate(const tp_seq_merge_map_t *map)
{
    if (NULL == map)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "sequence MergeMap: NULL map");
    }
    if (0 == map->rule_count || map->rule_count > TP_JOIN_MAX_INPUTS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "sequence MergeMap of stream %u: %u rules (1..%d allowed)",
            map->out_stream_id, map->rule_count, TP_JOIN_MAX_INPUTS);
    }
    for (uint32_t i = 0; i < map->rule_count; i++)
    {
        const tp_merge_seq_rule_t *r = &map->rules[i];
        for (uint32_t j = 0; j < i; j++)
        {
            if (map->rules[j].input_stream_id == r->input_stream_id)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                    "sequence MergeMap of stream %u: rule %u repeats input stream %u (one rule per input)",
                    map->out_stream_id, i, r->input_stream_id);
            }
        }
        if (TP_MERGE_RULE_OFFSET == r->type)
        {
            if (!r->has_offset || r->has_window_size)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                    "sequence MergeMap of stream %u: rule %u (input %u) is OFFSET: it needs an offset and no window size",
                    map->out_stream_id, i, r->input_stream_id);
            }
        }
        else if (TP_MERGE_RULE_WINDOW == r->type)
        {
            if (!r->has_window_size || r->has_offset || 0 == r->window_size)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                    "sequence MergeMap of stream %u: rule %u (input %u) is WINDOW: it needs a window size >= 1 and no offset",
                    map->out_stream_id, i, r->input_stream_id);
            }
        }
        else
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "sequence MergeMap of stream %u: rule %u has unknown type %d",
                map->out_stream_id, i, (int)r->type);
        }
    }
    return 0;
}

int tp_ts_merge_map_validate(const tp_ts_merge_map_t *map)
{
    if (NULL == map)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "timestamp MergeMap: NULL map");
    }
    if (TP_JOIN_CLOCK_MONOTONIC != map->clock_domain && TP_JOIN_CLOCK_REALTIME_SYNCED != map->clock_domain)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "timestamp MergeMap of stream %u: unknown clock domain %d",
            map->out_stream_id, (int)map->clock_domain);
    }
    if (0 == map->rule_count || map->rule_count > TP_JOIN_MAX_INPUTS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "timestamp MergeMap of stream %u: %u rules (1..%d allowed)",
            map->out_stream_id, map->rule_count, TP_JOIN_MAX_INPUTS);
    }
    for (uint32_t i = 0; i < map->rule_count; i++)
    {
        const tp_merge_ts_rule_t *r = &map->rules[i];
        for (uint32_t j = 0; j < i; j++)
        {
            if (map->rules[j].input_stream_id == r->input_stream_id)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                    "timestamp MergeMap of stream %u: rule %u repeats input stream %u (one rule per input)",
                    map->out_stream_id, i, r->input_stream_id);
            }
        }
        if (TP_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR != r->timestamp_source &&
            TP_TIMESTAMP_SOURCE_SLOT_HEADER != r->timestamp_source)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                "timestamp MergeMap of stream %u: rule %u (input %u) has unknown timestamp source %d",
                map->out_stream_id, i, r->input_stream_id, (int)r->timestamp_source);
        }
        if (TP_MERGE_TIME_RULE_OFFSET_NS == r->type)
        {
            if (!r->has_offset_ns || r->has_window_ns || INT64_MIN == r->offset_ns)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                    "timestamp MergeMap of stream %u: rule %u (input %u) is OFFSET_NS: it needs offsetNs and no windowNs",
                    map->out_stream_id, i, r->input_stream_id);
            }
        }
        else if (TP_MERGE_TIME_RULE_WINDOW_NS == r->type)
        {
            if (!r->has_window_ns || r->has_offset_ns || 0 == r->window_ns || UINT64_MAX == r->window_ns)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                    "timestamp MergeMap of stream %u: rule %u (input %u) is WINDOW_NS: it needs windowNs >= 1 and no offsetNs",
                    map->out_stream_id, i, r->input_stream_id);
            }
        }
        else
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "timestamp MergeMap of stream %u: rule %u has unknown type %d",
                map->out_stream_id, i, (int)r->type);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ barrier */

int tp_join_barrier_create(tp_join_barrier_t **out, const tp_join_barrier_config_t *config)
{
    if (NULL == out || NULL == config)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_create: NULL argument");
    }
    *out = NULL;
    if (TP_JOIN_SEQUENCE != config->kind && TP_JOIN_TIMESTAMP != config->kind && TP_JOIN_LATEST_VALUE != config->kind)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "tp_join_barrier_create: unknown kind %d (TP_JOIN_SEQUENCE, TP_JOIN_TIMESTAMP or TP_JOIN_LATEST_VALUE)",
            (int)config->kind);
    }
    tp_join_barrier_t *b = calloc(1, sizeof(*b));
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_join_barrier_create: out of memory");
    }
    b->config = *config;
    *out = b;
    return 0;
}

int tp_join_barrier_close(tp_join_barrier_t *b)
{
    free(b);
    return 0;
}

tp_join_kind_t tp_join_barrier_kind(const tp_join_barrier_t *b)
{
    return NULL != b ? b->config.kind : (tp_join_kind_t)0;
}

uint32_t tp_join_barrier_out_stream_id(const tp_join_barrier_t *b)
{
    return NULL != b ? b->config.out_stream_id : 0;
}

uint64_t tp_join_barrier_out_epoch(const tp_join_barrier_t *b)
{
    return NULL != b ? b->config.out_epoch : 0;
}

bool tp_join_barrier_has_map(const tp_join_barrier_t *b)
{
    return NULL != b && b->has_map;
}

static join_input_t *join_find(tp_join_barrier_t *b, uint32_t stream_id)
{
    for (uint32_t i = 0; i < b->input_count; i++)
    {
        if (b->inputs[i].stream_id == stream_id)
        {
            return &b->inputs[i];
        }
    }
    return NULL;
}

/* Re-key the inputs to the new map's streams, keeping the observed state of streams the new map still names. */
static void join_set_inputs(tp_join_barrier_t *b, const uint32_t *streams, uint32_t count)
{
    join_input_t old[TP_JOIN_MAX_INPUTS];
    uint32_t old_count = b->input_count;
    memcpy(old, b->inputs, sizeof(old));
    memset(b->inputs, 0, sizeof(b->inputs));
    for (uint32_t i = 0; i < count; i++)
    {
        b->inputs[i].stream_id = streams[i];
        for (uint32_t j = 0; j < old_count; j++)
        {
            if (old[j].stream_id == streams[i])
            {
                b->inputs[i] = old[j];
                break;
            }
        }
    }
    b->input_count = count;
}

/* 1 when the map names this barrier's (out stream, epoch), 0 otherwise (counted). */
/*
 * Whether a map is for this barrier: not of the kind it cannot use (wrong_kind) and keyed by its output
 * stream and epoch. A map that is not is counted as ignored.
 */
static bool join_map_is_ours(tp_join_barrier_t *b, tp_join_kind_t wrong_kind, uint32_t out_stream_id, uint64_t epoch)
{
    if (wrong_kind == b->config.kind || out_stream_id != b->config.out_stream_id || epoch != b->config.out_epoch)
    {
        b->stats.maps_ignored++;
        return false;
    }
    return true;
}

static int join_reject_map(tp_join_barrier_t *b)
{
    b->has_map = false;
    b->map_invalid = true;
    b->stats.maps_rejected++;
    return -1;
}

/* A validated map (already copied into seq_map or ts_map) becomes the current one: its inputs, fresh state. */
static int join_install_map(tp_join_barrier_t *b, bool is_ts, const uint32_t *streams, uint32_t stream_count)
{
    join_set_inputs(b, streams, stream_count);
    b->is_ts_map = is_ts;
    b->has_map = true;
    b->map_invalid = false;
    b->map_applied_ns = 0;
    b->stats.maps_applied++;
    return 1;
}

int tp_join_barrier_apply_seq_map(tp_join_barrier_t *b, const tp_seq_merge_map_t *map)
{
    if (NULL == b || NULL == map)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_apply_seq_map: NULL argument");
    }
    if (!join_map_is_ours(b, TP_JOIN_TIMESTAMP, map->out_stream_id, map->epoch))
    {
        return 0;
    }
    if (tp_seq_merge_map_validate(map) < 0)
    {
        return join_reject_map(b);
    }
    uint32_t streams[TP_JOIN_MAX_INPUTS];
    for (uint32_t i = 0; i < map->rule_count; i++)
    {
        streams[i] = map->rules[i].input_stream_id;
    }
    b->seq_map = *map;
    return join_install_map(b, false, streams, map->rule_count);
}

int tp_join_barrier_apply_ts_map(tp_join_barrier_t *b, const tp_ts_merge_map_t *map)
{
    if (NULL == b || NULL == map)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_apply_ts_map: NULL argument");
    }
    if (!join_map_is_ours(b, TP_JOIN_SEQUENCE, map->out_stream_id, map->epoch))
    {
        return 0;
    }
    if (tp_ts_merge_map_validate(map) < 0)
    {
        return join_reject_map(b);
    }
    uint32_t streams[TP_JOIN_MAX_INPUTS];
    for (uint32_t i = 0; i < map->rule_count; i++)
    {
        streams[i] = map->rules[i].input_stream_id;
    }
    b->ts_map = *map;
    return join_install_map(b, true, streams, map->rule_count);
}

int tp_join_barrier_set_epoch(tp_join_barrier_t *b, uint64_t epoch)
{
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_set_epoch: NULL barrier");
    }
    if (epoch != b->config.out_epoch)
    {
        b->config.out_epoch = epoch;
        b->has_map = false;
        b->map_invalid = false;
        b->out_time_seen = false;
    }
    return 0;
}

int tp_join_barrier_observe(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch, uint64_t seq,
    uint64_t descriptor_timestamp_ns, uint64_t slot_timestamp_ns, uint64_t trace_id, uint64_t now_ns)
{
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_observe: NULL barrier");
    }
    join_input_t *in = join_find(b, stream_id);
    if (NULL == in)
    {
        b->stats.observed_unknown++;
        return 0;
    }
    if (in->seen && epoch < in->epoch)
    {
        return 0; /* a frame of an earlier epoch: never used (§9.1) */
    }
    if (!in->seen || epoch != in->epoch)
    {
        uint32_t id = in->stream_id;
        memset(in, 0, sizeof(*in));
        in->stream_id = id;
        in->epoch = epoch;
        in->seen = true;
        in->observed_seq = seq;
        in->latest_seq = seq;
        in->latest_trace_id = trace_id;
        in->latest_time_fd = descriptor_timestamp_ns;
        in->latest_time_slot = slot_timestamp_ns;
    }
    else if (seq > in->observed_seq)
    {
        in->observed_seq = seq;
    }
    if (TP_NULL_TIMESTAMP != descriptor_timestamp_ns)
    {
        if (in->has_time_fd && descriptor_timestamp_ns < in->observed_time_fd)
        {
            in->non_monotonic = true;
        }
        else
        {
            in->observed_time_fd = descriptor_timestamp_ns;
            in->has_time_fd = true;
        }
    }
    if (0 != slot_timestamp_ns && TP_NULL_TIMESTAMP != slot_timestamp_ns)
    {
        if (in->has_time_slot && slot_timestamp_ns < in->observed_time_slot)
        {
            in->non_monotonic = true;
        }
        else
        {
            in->observed_time_slot = slot_timestamp_ns;
            in->has_time_slot = true;
        }
    }
    if (seq > in->latest_seq) /* newest by sequence (§9.2); an invalidated selection waits for a newer frame */
    {
        in->latest_seq = seq;
        in->latest_trace_id = trace_id;
        in->latest_time_fd = descriptor_timestamp_ns;
        in->latest_time_slot = slot_timestamp_ns;
        in->latest_invalid = false;
    }
    in->last_observed_ns = now_ns;
    b->stats.observed++;
    return 1;
}

int tp_join_barrier_observe_frame(tp_join_barrier_t *b, const tp_frame_t *frame, uint64_t now_ns)
{
    if (NULL == b || NULL == frame)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_observe_frame: NULL argument");
    }
    return tp_join_barrier_observe(b, frame->stream_id, frame->epoch, frame->seq, frame->descriptor_timestamp_ns,
        frame->timestamp_ns, frame->trace_id, now_ns);
}

int tp_join_barrier_processed(tp_join_barrier_t *b, uint32_t stream_id, uint64_t seq, uint64_t time_ns)
{
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_processed: NULL barrier");
    }
    join_input_t *in = join_find(b, stream_id);
    if (NULL == in)
    {
        return 0;
    }
    if (!in->processed_seen || seq > in->processed_seq)
    {
        in->processed_seq = seq;
    }
    in->processed_seen = true;
    if (0 != time_ns && (!in->processed_time_seen || time_ns > in->processed_time))
    {
        in->processed_time = time_ns;
        in->processed_time_seen = true;
    }
    return 1;
}

static uint64_t join_stale_timeout(const tp_join_barrier_t *b, bool *has)
{
    *has = b->is_ts_map ? b->ts_map.has_stale_timeout_ns : b->seq_map.has_stale_timeout_ns;
    return b->is_ts_map ? b->ts_map.stale_timeout_ns : b->seq_map.stale_timeout_ns;
}

/* Stale (§7.4): the local time since the input's last frame (or since the map was first used) exceeds the timeout. */
static bool join_is_stale(tp_join_barrier_t *b, const join_input_t *in, uint64_t now_ns)
{
    bool has = false;
    uint64_t timeout = join_stale_timeout(b, &has);
    if (!has)
    {
        return false;
    }
    uint64_t since = in->seen ? in->last_observed_ns : b->map_applied_ns;
    return now_ns > since && now_ns - since > timeout;
}

static void join_fill_input(const join_input_t *in, tp_join_input_t *o)
{
    o->stream_id = in->stream_id;
    o->epoch = in->epoch;
    o->latest_seq = in->latest_seq;
    o->latest_trace_id = in->seen && !in->latest_invalid ? in->latest_trace_id : 0;
    o->latest_time_ns = in->latest_time_slot;
}

/* Common prologue: kind, map; 0 = go on, else the return value. */
static int join_begin(tp_join_barrier_t *b, tp_join_kind_t kind, uint64_t now_ns, tp_join_result_t *r)
{
    if (NULL == b || NULL == r || b->config.kind != kind)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "join barrier: NULL argument or wrong barrier kind for this call");
    }
    r->input_count = 0;
    r->absent_count = 0;
    if (!b->has_map)
    {
        b->stats.blocked_no_map++;
        return 2;
    }
    if (0 == b->map_applied_ns)
    {
        b->map_applied_ns = now_ns ? now_ns : 1;
    }
    r->input_count = b->input_count;
    return 0;
}

/* Present inputs decided; absent ones counted. 1 ready (at least one present input), 0 not. */
static int join_finish(tp_join_barrier_t *b, bool ready, tp_join_result_t *r)
{
    if (ready && r->absent_count < r->input_count)
    {
        b->stats.ready++;
        b->stats.stale_absent += r->absent_count;
        return 1;
    }
    b->stats.not_ready++;
    return 0;
}

int tp_join_barrier_ready_seq(tp_join_barrier_t *b, uint64_t out_seq, uint64_t now_ns, tp_join_result_t *r)
{
    int rc = join_begin(b, TP_JOIN_SEQUENCE, now_ns, r);
    if (0 != rc)
    {
        return rc < 0 ? -1 : 0;
    }
    bool ready = true;
    for (uint32_t i = 0; i < b->input_count && ready; i++)
    {
        const tp_merge_seq_rule_t *rule = &b->seq_map.rules[i];
        join_input_t *in = &b->inputs[i];
        tp_join_input_t *o = &r->inputs[i];
        memset(o, 0, sizeof(*o));
        join_fill_input(in, o);
        uint64_t need;
        if (TP_MERGE_RULE_OFFSET == rule->type)
        {
            if (rule->offset < 0 && out_seq < (uint64_t)(-(int64_t)rule->offset))
            {
                ready = false; /* out_seq + offset negative: not ready until out_seq >= -offset (§6.2.1) */
                break;
            }
            need = rule->offset < 0 ? out_seq - (uint64_t)(-(int64_t)rule->offset) : out_seq + (uint64_t)rule->offset;
            o->seq_low = o->seq_high = need;
        }
        else
        {
            if (out_seq + 1 < rule->window_size)
            {
                ready = false; /* out_seq + 1 < N: not ready (§6.2.2) */
                break;
            }
            need = out_seq;
            o->seq_low = out_seq + 1 - rule->window_size;
            o->seq_high = out_seq;
        }
        bool ok = in->seen && in->observed_seq >= need;
        if (ok && b->config.use_processed_cursor)
        {
            ok = in->processed_seen && in->processed_seq >= need;
        }
        if (!ok)
        {
            if (join_is_stale(b, in, now_ns))
            {
                o->absent = true;
                r->absent_count++;
                continue;
            }
            ready = false;
        }
    }
    return join_finish(b, ready, r);
}

int tp_join_barrier_ready_time(tp_join_barrier_t *b, uint64_t out_time, tp_join_clock_domain_t clock_domain,
    uint64_t now_ns, tp_join_result_t *r)
{
    int rc = join_begin(b, TP_JOIN_TIMESTAMP, now_ns, r);
    if (0 != rc)
    {
        return rc < 0 ? -1 : 0;
    }
    if (clock_domain != b->ts_map.clock_domain)
    {
        b->stats.rejected++;
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "timestamp join of stream %u rejected: out_time clock domain %d differs from the MergeMap's %d",
            b->config.out_stream_id, (int)clock_domain, (int)b->ts_map.clock_domain);
    }
    if (b->out_time_seen && out_time < b->last_out_time)
    {
        b->stats.rejected++;
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "timestamp join of stream %u rejected: out_time %llu went back (last %llu; must be non-decreasing)",
            b->config.out_stream_id, (unsigned long long)out_time, (unsigned long long)b->last_out_time);
    }
    b->out_time_seen = true;
    b->last_out_time = out_time;
    uint64_t lateness = b->ts_map.has_lateness_ns ? b->ts_map.lateness_ns : 0;
    bool ready = true;
    for (uint32_t i = 0; i < b->input_count && ready; i++)
    {
        const tp_merge_ts_rule_t *rule = &b->ts_map.rules[i];
        join_input_t *in = &b->inputs[i];
        tp_join_input_t *o = &r->inputs[i];
        memset(o, 0, sizeof(*o));
        join_fill_input(in, o);
        if (in->non_monotonic)
        {
            b->stats.rejected++;
            b->stats.non_monotonic++;
            return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                "timestamp join of stream %u rejected: input stream %u has timestamps going back in epoch %llu",
                b->config.out_stream_id, in->stream_id, (unsigned long long)in->epoch);
        }
        uint64_t need;
        if (TP_MERGE_TIME_RULE_OFFSET_NS == rule->type)
        {
            if (rule->offset_ns < 0 && out_time < (uint64_t)(-(rule->offset_ns)))
            {
                ready = false; /* §6.3.1 */
                break;
            }
            need = rule->offset_ns < 0 ? out_time - (uint64_t)(-(rule->offset_ns)) : out_time + (uint64_t)rule->offset_ns;
            o->time_low = o->time_high = need;
        }
        else
        {
            if (out_time < rule->window_ns)
            {
                ready = false; /* §6.3.2 */
                break;
            }
            need = out_time;
            o->time_low = out_time - rule->window_ns;
            o->time_high = out_time;
        }
        uint64_t threshold = need > lateness ? need - lateness : 0;
        bool fd = TP_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR == rule->timestamp_source;
        bool has_time = fd ? in->has_time_fd : in->has_time_slot;
        uint64_t observed = fd ? in->observed_time_fd : in->observed_time_slot;
        o->latest_time_ns = fd ? in->latest_time_fd : in->latest_time_slot;
        bool ok = in->seen && has_time && observed >= threshold; /* absent timestamp: not ready (§8.2) */
        if (ok && b->config.use_processed_cursor)
        {
            ok = in->processed_time_seen && in->processed_time >= threshold;
        }
        if (!ok)
        {
            if (join_is_stale(b, in, now_ns))
            {
                o->absent = true;
                r->absent_count++;
                continue;
            }
            ready = false;
        }
    }
    return join_finish(b, ready, r);
}

int tp_join_barrier_ready_latest(tp_join_barrier_t *b, uint64_t now_ns, tp_join_result_t *r)
{
    int rc = join_begin(b, TP_JOIN_LATEST_VALUE, now_ns, r);
    if (0 != rc)
    {
        return rc < 0 ? -1 : 0;
    }
    bool ready = true;
    for (uint32_t i = 0; i < b->input_count; i++)
    {
        join_input_t *in = &b->inputs[i];
        tp_join_input_t *o = &r->inputs[i];
        memset(o, 0, sizeof(*o));
        join_fill_input(in, o);
        o->seq_low = o->seq_high = in->latest_seq;
        if (!in->seen || in->latest_invalid)
        {
            if (join_is_stale(b, in, now_ns))
            {
                o->absent = true;
                r->absent_count++;
                continue;
            }
            ready = false;
            break;
        }
    }
    return join_finish(b, ready, r);
}

int tp_join_barrier_invalidate_latest(tp_join_barrier_t *b, uint32_t stream_id, uint64_t seq)
{
    join_input_t *in = NULL == b ? NULL : join_find(b, stream_id);
    if (NULL == in || !in->seen || in->latest_invalid || in->latest_seq != seq)
    {
        return 0;
    }
    in->latest_invalid = true;
    b->stats.invalidated++;
    return 1;
}

int tp_join_barrier_stats(const tp_join_barrier_t *b, tp_join_barrier_stats_t *stats)
{
    if (NULL == b || NULL == stats)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_join_barrier_stats: NULL argument");
    }
    *stats = b->stats;
    return 0;
}

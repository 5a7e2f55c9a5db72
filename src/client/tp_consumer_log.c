/*
 * Consumer diagnostics, on the conductor thread: refused announces are
 * counted per reason (tp_consumer_mapping.c) and also logged here at warn
 * level, at most once per reason per second per consumer (with the number
 * suppressed meanwhile), with what to check, so that a user who receives
 * nothing sees why.
 */
#include "client/tp_consumer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

static const char *reject_hint(tp_announce_reject_t reason)
{
    switch (reason)
    {
        case TP_ANNOUNCE_REJECT_DECODE:
            return "malformed ShmPoolAnnounce: is the producer's implementation on the same schema version?";
        case TP_ANNOUNCE_REJECT_CLOCK_DOMAIN:
            return "unknown announce clock domain: check the producer's implementation";
        case TP_ANNOUNCE_REJECT_STALE:
            return "announce older than the freshness window: are the producer's and consumer's clocks and announce "
                "periods consistent (tp_context_set_announce_period_ns)?";
        case TP_ANNOUNCE_REJECT_BEFORE_JOIN:
            return "announce sent before this consumer joined: normal once at start-up, the next announce is taken";
        case TP_ANNOUNCE_REJECT_OLD_EPOCH:
            return "lower epoch than the one mapped: an old producer instance, or a second producer on the same "
                "stream id (give each producer its own stream id)";
        case TP_ANNOUNCE_REJECT_LAYOUT_VERSION:
            return "unsupported layout_version: producer and consumer implement different spec versions";
        case TP_ANNOUNCE_REJECT_SLOT_BYTES:
        case TP_ANNOUNCE_REJECT_NSLOTS:
        case TP_ANNOUNCE_REJECT_STRIDE:
        case TP_ANNOUNCE_REJECT_NO_POOLS:
            return "announced geometry violates the spec: check the producer's configuration (power-of-two nslots, "
                "strides multiple of 64, 1..16 unique pools)";
        case TP_ANNOUNCE_REJECT_URI:
            return "region URI is not a valid shm:file URI";
        case TP_ANNOUNCE_REJECT_PATH:
            return "region path outside the allowed directories, missing or not a regular file: do producer and "
                "consumer use the same shm base directory (tp_context_set_shm_base_dir, TP_SHM_BASE_DIR) and user?";
        case TP_ANNOUNCE_REJECT_SUPERBLOCK:
            return "region superblock does not match the announce: a stale file, or another producer rewrote it";
        default:
            return "mapping the announced regions failed";
    }
}

void tp_consumer_log_reject(tp_consumer_t *c, tp_announce_reject_t reason)
{
    if ((int)reason < 0 || reason >= TP_ANNOUNCE_REJECT_COUNT)
    {
        return;
    }
    /* every reject() follows a tp_err_set() with the specifics (path, field values) */
    tp_log_write_limited(&c->reject_log[reason], TP_LOG_LIMIT_INTERVAL_NS, TP_LOG_LEVEL_WARN, "consumer",
        "stream %u: ShmPoolAnnounce refused (%s, %llu so far): %s; %s", c->config.stream_id,
        tp_announce_reject_name(reason), (unsigned long long)atomic_load(&c->announces_rejected[reason]),
        reject_hint(reason), tp_errmsg());
}

bool tp_consumer_other_producer(tp_consumer_t *c, uint32_t producer_id, int32_t session_id, uint64_t epoch)
{
    /* driver mode: the driver announces every producer of the stream and admits one at a time (producer_active) */
    if (c->driver_mode || NULL == c->ring ||
        (producer_id == c->mapped_producer_id && session_id == c->mapped_session_id))
    {
        return false;
    }
    /*
     * The mapped producer counts as alive while its image is (embedded IPC: gone at once on a clean close) and
     * it announced within half a freshness window (1.5 announce periods by default: a crash, or Aeron, where
     * publications of one stream share a session). Otherwise a restart may take over, as before.
     */
    bool mapped_live = false;
    for (size_t i = 0; i < c->image_count; i++)
    {
        mapped_live |= c->images[i].session_id == c->mapped_session_id;
    }
    if (!mapped_live || tp_clock_mono_ns() - c->last_announce_ns > tp_context_freshness_ns(&c->client->ctx) / 2)
    {
        return false;
    }
    tp_counter_add(&c->other_producer_announces, 1);
    tp_log_write_limited(&c->other_producer_log, TP_LOG_LIMIT_INTERVAL_NS, TP_LOG_LEVEL_WARN, "consumer",
        "stream %u: a second producer announces this stream (producer_id %u, session %d, epoch %llu) while the "
        "mapped one (producer_id %u, session %d, epoch %llu) is alive: ignoring it (%llu announces so far); give each "
        "producer its own stream id", c->config.stream_id, producer_id, (int)session_id, (unsigned long long)epoch,
        c->mapped_producer_id, (int)c->mapped_session_id, (unsigned long long)c->epoch,
        (unsigned long long)atomic_load(&c->other_producer_announces));
    return true;
}

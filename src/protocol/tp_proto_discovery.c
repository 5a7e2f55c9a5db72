/*
 * Discovery decode layer: DiscoveryRequest / DiscoveryResponse in both the
 * fixed (ERRATA 2) and the reference layout (DECISIONS D1). See
 * tp_proto_discovery.h for the contract.
 *
 * The two generated codecs have the same flyweight shapes and differ only in
 * the tags entries (var-data vs no bytes), so each decoder and encoder body is
 * written once as a macro over the codec prefix and instantiated twice.
 */
#include "protocol/tp_proto_discovery.h"

#include <string.h>

#include "common/tp_error.h"
#include "protocol/tp_proto_status.h"

static _Thread_local tp_proto_status_t disc_status = TP_PROTO_STATUS_INIT;

const char *tp_proto_discovery_layout_name(tp_proto_discovery_layout_t layout)
{
    return TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == layout ? "reference" : "fixed";
}

tp_proto_error_t tp_proto_discovery_last_error(void)
{
    return disc_status.error;
}

const char *tp_proto_discovery_last_error_field(void)
{
    return disc_status.field;
}

/* A decode failure inside one layout: the reason and the field. */
typedef struct disc_fail_stct
{
    tp_proto_error_t error;
    const char *what;
}
disc_fail_t;

#define DISC_FAIL(F, E, WHAT)                                                                              \
    do                                                                                                     \
    {                                                                                                      \
        (F)->error = (E);                                                                                  \
        (F)->what = (WHAT);                                                                                \
        return -1;                                                                                         \
    } while (0)

/* Read var-data at *pos: length over `max` is VAR_DATA_OVERFLOW, past the end TOO_SHORT. */
static int disc_var(const uint8_t *buf, size_t len, size_t *pos, uint32_t max, tp_proto_str_t *dst, disc_fail_t *f,
    const char *what)
{
    size_t p = *pos;
    if (p > len || len - p < TP_SBE_VAR_DATA_HEADER_LENGTH)
    {
        DISC_FAIL(f, TP_PROTO_TOO_SHORT, what);
    }
    uint32_t n = tp_sbe_get_u32(buf + p);
    if (n > max)
    {
        DISC_FAIL(f, TP_PROTO_VAR_DATA_OVERFLOW, what);
    }
    if (n > len - p - TP_SBE_VAR_DATA_HEADER_LENGTH)
    {
        DISC_FAIL(f, TP_PROTO_TOO_SHORT, what);
    }
    dst->data = (const char *)(buf + p + TP_SBE_VAR_DATA_HEADER_LENGTH);
    dst->length = n;
    *pos = p + TP_SBE_VAR_DATA_HEADER_LENGTH + n;
    return 0;
}

/* Tag entries: the fixed layout carries var-data, the reference layout nothing. */
#define DISC_TAG_FIXED(BUF, LEN, POSP, DST, F, WHAT) disc_var((BUF), (LEN), (POSP), TP_PROTO_DISCOVERY_TAG_MAX, (DST), (F), (WHAT))
#define DISC_TAG_REF(BUF, LEN, POSP, DST, F, WHAT) ((DST)->data = NULL, (DST)->length = 0, 0)

/* ------------------------------------------------------------------ request */

#define DISC_DEFINE_REQUEST_DECODER(FN, P, TAG)                                                            \
    static int FN(const uint8_t *buf, size_t len, tp_proto_discovery_request_view_t *out, size_t *consumed,  \
        disc_fail_t *f)                                                                                    \
    {                                                                                                      \
        P##_discovery_request_t m;                                                                         \
        P##_discovery_request_tags_t g;                                                                    \
        memset(out, 0, sizeof(*out));                                                                      \
        int rc = P##_discovery_request_wrap_for_decode_with_header(&m, buf, 0, len);                      \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            DISC_FAIL(f, tp_proto_status_from_sbe(rc), tp_sbe_strerror(rc));                               \
        }                                                                                                  \
        out->request_id = P##_discovery_request_request_id(&m);                                            \
        out->client_id = P##_discovery_request_client_id(&m);                                              \
        out->response_stream_id = P##_discovery_request_response_stream_id(&m);                            \
        out->has_stream_id = !P##_discovery_request_stream_id_is_null(&m);                                 \
        out->stream_id = P##_discovery_request_stream_id(&m);                                              \
        out->has_producer_id = !P##_discovery_request_producer_id_is_null(&m);                             \
        out->producer_id = P##_discovery_request_producer_id(&m);                                          \
        out->has_data_source_id = !P##_discovery_request_data_source_id_is_null(&m);                       \
        out->data_source_id = P##_discovery_request_data_source_id(&m);                                    \
        rc = P##_discovery_request_get_tags(&m, &g);                                                       \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            DISC_FAIL(f, TP_SBE_ERR_BLOCK_LENGTH == rc ? TP_PROTO_BAD_BLOCK_LENGTH : TP_PROTO_TOO_SHORT,   \
                "tags header");                                                                            \
        }                                                                                                  \
        uint64_t n = P##_discovery_request_tags_count(&g);                                                 \
        if (n > TP_PROTO_DISCOVERY_MAX_TAGS)                                                               \
        {                                                                                                  \
            DISC_FAIL(f, TP_PROTO_GROUP_OVERFLOW, "tags");                                                 \
        }                                                                                                  \
        for (uint32_t i = 0; i < (uint32_t)n; i++)                                                         \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_request_tags_next(&g))                                          \
            {                                                                                              \
                DISC_FAIL(f, TP_PROTO_TOO_SHORT, "tags element");                                          \
            }                                                                                              \
            if (TAG(buf, len, &m.position, &out->tags[i], f, "tags.tag") < 0)                              \
            {                                                                                              \
                return -1;                                                                                 \
            }                                                                                              \
        }                                                                                                  \
        out->tag_count = (uint32_t)n;                                                                      \
        if (disc_var(buf, len, &m.position, TP_PROTO_DISCOVERY_CHANNEL_MAX, &out->response_channel, f,     \
                "responseChannel") < 0 ||                                                                  \
            disc_var(buf, len, &m.position, TP_PROTO_DISCOVERY_NAME_MAX, &out->data_source_name, f,        \
                "dataSourceName") < 0)                                                                     \
        {                                                                                                  \
            return -1;                                                                                     \
        }                                                                                                  \
        *consumed = m.position;                                                                            \
        return 0;                                                                                          \
    }

DISC_DEFINE_REQUEST_DECODER(disc_request_fixed, tp_sbe_discovery, DISC_TAG_FIXED)
DISC_DEFINE_REQUEST_DECODER(disc_request_ref, tp_sbe_discovery_ref, DISC_TAG_REF)

static int disc_ok(void)
{
    return tp_proto_status_ok(&disc_status);
}

static int disc_report(const char *msg, const disc_fail_t *f)
{
    return tp_proto_status_fail(&disc_status, msg, f->error, tp_proto_error_name(f->error), f->what);
}

/*
 * The D1 fallback, shared by both messages: decode with the fixed layout,
 * then the reference one. A reference decode is taken only when it consumes
 * the buffer exactly (so that a truncated or padded fixed message is not
 * read as a reference one with shifted fields); a fixed decode that leaves
 * trailing bytes is taken when the reference decode does not fit exactly.
 */
#define DISC_FALLBACK(MSG, FIXED, REF, VIEW_T)                                                             \
    do                                                                                                     \
    {                                                                                                      \
        if (NULL == buf || NULL == out)                                                                    \
        {                                                                                                  \
            disc_fail_t nf = { TP_PROTO_NULL_BUFFER, "arguments" };                                        \
            return disc_report(MSG, &nf);                                                                  \
        }                                                                                                  \
        disc_fail_t ff = { TP_PROTO_OK, "" };                                                              \
        disc_fail_t rf = { TP_PROTO_OK, "" };                                                              \
        size_t fused = 0;                                                                                  \
        size_t rused = 0;                                                                                  \
        int frc = FIXED(buf, len, out, &fused, &ff);                                                       \
        if (0 == frc && fused == len)                                                                      \
        {                                                                                                  \
            out->layout = TP_PROTO_DISCOVERY_LAYOUT_FIXED;                                                 \
            return disc_ok();                                                                              \
        }                                                                                                  \
        bool header_problem = 0 != frc && (TP_PROTO_WRONG_SCHEMA == ff.error ||                             \
            TP_PROTO_WRONG_TEMPLATE == ff.error || TP_PROTO_BAD_VERSION == ff.error);                      \
        if (!header_problem)                                                                               \
        {                                                                                                  \
            VIEW_T alt;                                                                                    \
            int rrc = REF(buf, len, &alt, &rused, &rf);                                                    \
            if (0 == rrc && rused == len)                                                    \
            {                                                                                              \
                memcpy(out, &alt, sizeof(alt));                                                            \
                out->layout = TP_PROTO_DISCOVERY_LAYOUT_REFERENCE;                                         \
                return disc_ok();                                                                          \
            }                                                                                              \
        }                                                                                                  \
        if (0 == frc)                                                                                      \
        {                                                                                                  \
            FIXED(buf, len, out, &fused, &ff); /* trailing bytes ignored */                               \
            out->layout = TP_PROTO_DISCOVERY_LAYOUT_FIXED;                                                 \
            return disc_ok();                                                                              \
        }                                                                                                  \
        return disc_report(MSG, &ff);                                                                      \
    } while (0)

int tp_proto_decode_discovery_request(const uint8_t *buf, size_t len, tp_proto_discovery_request_view_t *out)
{
    DISC_FALLBACK("DiscoveryRequest", disc_request_fixed, disc_request_ref, tp_proto_discovery_request_view_t);
}

/* ----------------------------------------------------------------- response */

/* One result at the group's current element (already advanced by _next). */
#define DISC_DEFINE_RESULT_DECODER(FN, P, TAG)                                                             \
    static int FN(P##_discovery_response_results_t *g, tp_proto_discovery_result_view_t *out, disc_fail_t *f) \
    {                                                                                                      \
        const uint8_t *buf = g->buffer;                                                                    \
        size_t len = g->buffer_length;                                                                     \
        P##_discovery_response_results_payload_pools_t pg;                                                 \
        P##_discovery_response_results_tags_t tg;                                                          \
        memset(out, 0, sizeof(*out));                                                                      \
        out->stream_id = P##_discovery_response_results_stream_id(g);                                      \
        out->producer_id = P##_discovery_response_results_producer_id(g);                                  \
        out->epoch = P##_discovery_response_results_epoch(g);                                              \
        out->layout_version = P##_discovery_response_results_layout_version(g);                            \
        out->header_nslots = P##_discovery_response_results_header_nslots(g);                              \
        out->header_slot_bytes = P##_discovery_response_results_header_slot_bytes(g);                      \
        out->max_dims = P##_discovery_response_results_max_dims(g);                                        \
        out->has_data_source_id = !P##_discovery_response_results_data_source_id_is_null(g);               \
        out->data_source_id = P##_discovery_response_results_data_source_id(g);                            \
        out->driver_control_stream_id = P##_discovery_response_results_driver_control_stream_id(g);        \
        int rc = P##_discovery_response_results_get_payload_pools(g, &pg);                                 \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            DISC_FAIL(f, TP_SBE_ERR_BLOCK_LENGTH == rc ? TP_PROTO_BAD_BLOCK_LENGTH : TP_PROTO_TOO_SHORT,   \
                "results.payloadPools header");                                                            \
        }                                                                                                  \
        uint64_t n = P##_discovery_response_results_payload_pools_count(&pg);                              \
        if (n > TP_PROTO_MAX_POOLS)                                                                        \
        {                                                                                                  \
            DISC_FAIL(f, TP_PROTO_GROUP_OVERFLOW, "results.payloadPools");                                 \
        }                                                                                                  \
        for (uint32_t i = 0; i < (uint32_t)n; i++)                                                         \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_response_results_payload_pools_next(&pg))                       \
            {                                                                                              \
                DISC_FAIL(f, TP_PROTO_TOO_SHORT, "results.payloadPools element");                          \
            }                                                                                              \
            out->pools[i].pool_id = P##_discovery_response_results_payload_pools_pool_id(&pg);             \
            out->pools[i].pool_nslots = P##_discovery_response_results_payload_pools_pool_nslots(&pg);     \
            out->pools[i].stride_bytes = P##_discovery_response_results_payload_pools_stride_bytes(&pg);   \
            if (disc_var(buf, len, pg.position_ptr, TP_PROTO_REGION_URI_MAX, &out->pools[i].region_uri, f, \
                    "results.payloadPools.regionUri") < 0)                                                 \
            {                                                                                              \
                return -1;                                                                                 \
            }                                                                                              \
        }                                                                                                  \
        out->pool_count = (uint32_t)n;                                                                     \
        rc = P##_discovery_response_results_get_tags(g, &tg);                                              \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            DISC_FAIL(f, TP_SBE_ERR_BLOCK_LENGTH == rc ? TP_PROTO_BAD_BLOCK_LENGTH : TP_PROTO_TOO_SHORT,   \
                "results.tags header");                                                                    \
        }                                                                                                  \
        n = P##_discovery_response_results_tags_count(&tg);                                                \
        if (n > TP_PROTO_DISCOVERY_MAX_TAGS)                                                               \
        {                                                                                                  \
            DISC_FAIL(f, TP_PROTO_GROUP_OVERFLOW, "results.tags");                                         \
        }                                                                                                  \
        for (uint32_t i = 0; i < (uint32_t)n; i++)                                                         \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_response_results_tags_next(&tg))                                \
            {                                                                                              \
                DISC_FAIL(f, TP_PROTO_TOO_SHORT, "results.tags element");                                  \
            }                                                                                              \
            if (TAG(buf, len, tg.position_ptr, &out->tags[i], f, "results.tags.tag") < 0)                  \
            {                                                                                              \
                return -1;                                                                                 \
            }                                                                                              \
        }                                                                                                  \
        out->tag_count = (uint32_t)n;                                                                      \
        if (disc_var(buf, len, g->position_ptr, TP_PROTO_REGION_URI_MAX, &out->header_region_uri, f,       \
                "results.headerRegionUri") < 0 ||                                                          \
            disc_var(buf, len, g->position_ptr, TP_PROTO_DISCOVERY_NAME_MAX, &out->data_source_name, f,    \
                "results.dataSourceName") < 0 ||                                                           \
            disc_var(buf, len, g->position_ptr, TP_PROTO_DISCOVERY_INSTANCE_ID_MAX,                        \
                &out->driver_instance_id, f, "results.driverInstanceId") < 0 ||                            \
            disc_var(buf, len, g->position_ptr, TP_PROTO_DISCOVERY_CHANNEL_MAX,                            \
                &out->driver_control_channel, f, "results.driverControlChannel") < 0)                      \
        {                                                                                                  \
            return -1;                                                                                     \
        }                                                                                                  \
        return 0;                                                                                          \
    }

DISC_DEFINE_RESULT_DECODER(disc_result_fixed, tp_sbe_discovery, DISC_TAG_FIXED)
DISC_DEFINE_RESULT_DECODER(disc_result_ref, tp_sbe_discovery_ref, DISC_TAG_REF)

#define DISC_DEFINE_RESPONSE_DECODER(FN, P, RESULT, MEMBER, LAYOUT)                                        \
    static int FN(const uint8_t *buf, size_t len, tp_proto_discovery_response_view_t *out, size_t *consumed, \
        disc_fail_t *f)                                                                                    \
    {                                                                                                      \
        memset(out, 0, sizeof(*out));                                                                      \
        P##_discovery_response_t *m = &out->results.u.MEMBER.m;                                            \
        P##_discovery_response_results_t *g = &out->results.u.MEMBER.g;                                    \
        int rc = P##_discovery_response_wrap_for_decode_with_header(m, buf, 0, len);                      \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            DISC_FAIL(f, tp_proto_status_from_sbe(rc), tp_sbe_strerror(rc));                               \
        }                                                                                                  \
        out->request_id = P##_discovery_response_request_id(m);                                            \
        uint8_t status = (uint8_t)P##_discovery_response_status(m);                                        \
        out->status = (tp_sbe_discovery_discovery_status_t)status;                                         \
        if (!tp_sbe_discovery_discovery_status_is_valid(status))                                           \
        {                                                                                                  \
            DISC_FAIL(f, 255 == status ? TP_PROTO_MISSING_REQUIRED : TP_PROTO_BAD_ENUM, "status");         \
        }                                                                                                  \
        rc = P##_discovery_response_get_results(m, g);                                                     \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            DISC_FAIL(f, TP_SBE_ERR_BLOCK_LENGTH == rc ? TP_PROTO_BAD_BLOCK_LENGTH : TP_PROTO_TOO_SHORT,   \
                "results header");                                                                         \
        }                                                                                                  \
        uint64_t n = P##_discovery_response_results_count(g);                                              \
        if (n > TP_PROTO_DISCOVERY_MAX_RESULTS)                                                            \
        {                                                                                                  \
            DISC_FAIL(f, TP_PROTO_GROUP_OVERFLOW, "results");                                              \
        }                                                                                                  \
        out->result_count = (uint32_t)n;                                                                   \
        out->results.layout = LAYOUT;                                                                      \
        out->results.remaining = (uint32_t)n;                                                              \
        /* walk a copy: the view keeps the flyweights positioned at the first result */                   \
        P##_discovery_response_t wm = *m;                                                                  \
        P##_discovery_response_results_t wg = *g;                                                          \
        wg.position_ptr = &wm.position;                                                                    \
        tp_proto_discovery_result_view_t r;                                                                \
        for (uint32_t i = 0; i < (uint32_t)n; i++)                                                         \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_response_results_next(&wg))                                     \
            {                                                                                              \
                DISC_FAIL(f, TP_PROTO_TOO_SHORT, "results element");                                       \
            }                                                                                              \
            if (RESULT(&wg, &r, f) < 0)                                                                    \
            {                                                                                              \
                return -1;                                                                                 \
            }                                                                                              \
        }                                                                                                  \
        if (disc_var(buf, len, &wm.position, TP_PROTO_DISCOVERY_ERROR_MAX, &out->error_message, f,         \
                "errorMessage") < 0)                                                                       \
        {                                                                                                  \
            return -1;                                                                                     \
        }                                                                                                  \
        *consumed = wm.position;                                                                           \
        return 0;                                                                                          \
    }

DISC_DEFINE_RESPONSE_DECODER(disc_response_fixed, tp_sbe_discovery, disc_result_fixed, fixed,
    TP_PROTO_DISCOVERY_LAYOUT_FIXED)
DISC_DEFINE_RESPONSE_DECODER(disc_response_ref, tp_sbe_discovery_ref, disc_result_ref, ref,
    TP_PROTO_DISCOVERY_LAYOUT_REFERENCE)

int tp_proto_decode_discovery_response(const uint8_t *buf, size_t len, tp_proto_discovery_response_view_t *out)
{
    DISC_FALLBACK("DiscoveryResponse", disc_response_fixed, disc_response_ref, tp_proto_discovery_response_view_t);
}

int tp_proto_discovery_result_next(tp_proto_discovery_result_iter_t *it, tp_proto_discovery_result_view_t *out)
{
    if (NULL == it || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_proto_discovery_result_next: NULL argument");
    }
    if (0 == it->remaining)
    {
        return 0;
    }
    disc_fail_t f = { TP_PROTO_OK, "" };
    int rc;
    if (TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == it->layout)
    {
        it->u.ref.g.position_ptr = &it->u.ref.m.position; /* the iterator may have been copied */
        rc = TP_SBE_OK != tp_sbe_discovery_ref_discovery_response_results_next(&it->u.ref.g)
            ? -1 : disc_result_ref(&it->u.ref.g, out, &f);
    }
    else
    {
        it->u.fixed.g.position_ptr = &it->u.fixed.m.position;
        rc = TP_SBE_OK != tp_sbe_discovery_discovery_response_results_next(&it->u.fixed.g)
            ? -1 : disc_result_fixed(&it->u.fixed.g, out, &f);
    }
    if (rc < 0)
    {
        if (TP_PROTO_OK == f.error)
        {
            f.error = TP_PROTO_TOO_SHORT;
            f.what = "results element";
        }
        it->remaining = 0;
        return disc_report("DiscoveryResponse", &f);
    }
    it->remaining--;
    return 1;
}

/* ------------------------------------------------------------------ encoders */

#define DISC_TAG_PUT_FIXED(G, SRC, LEN) tp_sbe_var_put((G)->buffer, (G)->buffer_length, (G)->position_ptr, 4, \
    TP_PROTO_DISCOVERY_TAG_MAX, (const uint8_t *)(SRC), (LEN))
#define DISC_TAG_PUT_REF(G, SRC, LEN) ((void)(SRC), (void)(LEN), TP_SBE_OK)

#define DISC_DEFINE_REQUEST_ENCODER(FN, P, TAG_PUT)                                                        \
    static int FN(uint8_t *buf, size_t capacity, const tp_proto_discovery_request_view_t *msg, size_t *length_out) \
    {                                                                                                      \
        P##_discovery_request_t m = { 0 };                                                                 \
        P##_discovery_request_tags_t g = { 0 };                                                            \
        if (TP_SBE_OK != P##_discovery_request_wrap_and_apply_header(&m, buf, 0, capacity))                \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryRequest encode: %zu bytes are too few", capacity); \
        }                                                                                                  \
        P##_discovery_request_zero_padding(&m);                                                            \
        P##_discovery_request_set_request_id(&m, msg->request_id);                                         \
        P##_discovery_request_set_client_id(&m, msg->client_id);                                           \
        P##_discovery_request_set_response_stream_id(&m, msg->response_stream_id);                         \
        P##_discovery_request_set_stream_id(&m, msg->has_stream_id ? msg->stream_id : UINT32_MAX);         \
        P##_discovery_request_set_producer_id(&m, msg->has_producer_id ? msg->producer_id : UINT32_MAX);   \
        P##_discovery_request_set_data_source_id(&m, msg->has_data_source_id ? msg->data_source_id : UINT64_MAX); \
        if (TP_SBE_OK != P##_discovery_request_set_tags_count(&m, &g, (uint16_t)msg->tag_count))           \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryRequest encode: tags do not fit");        \
        }                                                                                                  \
        for (uint32_t i = 0; i < msg->tag_count; i++)                                                      \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_request_tags_next(&g) ||                                        \
                TP_SBE_OK != TAG_PUT(&g, msg->tags[i].data, msg->tags[i].length))                          \
            {                                                                                              \
                return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryRequest encode: tag %u does not fit (at most %u bytes)", \
                    i, TP_PROTO_DISCOVERY_TAG_MAX);                                                        \
            }                                                                                              \
        }                                                                                                  \
        if (TP_SBE_OK != P##_discovery_request_put_response_channel(&m, msg->response_channel.data,        \
                             msg->response_channel.length) ||                                              \
            TP_SBE_OK != P##_discovery_request_put_data_source_name(&m, msg->data_source_name.data,        \
                             msg->data_source_name.length))                                                \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryRequest encode: strings do not fit in %zu bytes", capacity); \
        }                                                                                                  \
        *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + P##_discovery_request_encoded_length(&m);             \
        return 0;                                                                                          \
    }

DISC_DEFINE_REQUEST_ENCODER(disc_encode_request_fixed, tp_sbe_discovery, DISC_TAG_PUT_FIXED)
DISC_DEFINE_REQUEST_ENCODER(disc_encode_request_ref, tp_sbe_discovery_ref, DISC_TAG_PUT_REF)

int tp_proto_encode_discovery_request(uint8_t *buf, size_t capacity, const tp_proto_discovery_request_view_t *msg,
    tp_proto_discovery_layout_t layout, size_t *length_out)
{
    if (NULL == buf || NULL == msg || NULL == length_out || msg->tag_count > TP_PROTO_DISCOVERY_MAX_TAGS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryRequest encode: NULL argument or more than %u tags",
            TP_PROTO_DISCOVERY_MAX_TAGS);
    }
    return TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == layout ? disc_encode_request_ref(buf, capacity, msg, length_out)
                                                         : disc_encode_request_fixed(buf, capacity, msg, length_out);
}

#define DISC_DEFINE_RESPONSE_BEGIN(FN, P, MEMBER)                                                          \
    static int FN(tp_proto_discovery_response_encoder_t *enc, uint8_t *buf, size_t capacity, uint64_t request_id, \
        tp_sbe_discovery_discovery_status_t status, uint32_t result_count)                                 \
    {                                                                                                      \
        P##_discovery_response_t *m = &enc->u.MEMBER.m;                                                    \
        if (TP_SBE_OK != P##_discovery_response_wrap_and_apply_header(m, buf, 0, capacity))                \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: %zu bytes are too few", capacity); \
        }                                                                                                  \
        P##_discovery_response_zero_padding(m);                                                            \
        P##_discovery_response_set_request_id(m, request_id);                                              \
        P##_discovery_response_set_status(m, (P##_discovery_status_t)status);                              \
        if (TP_SBE_OK != P##_discovery_response_set_results_count(m, &enc->u.MEMBER.g, (uint16_t)result_count)) \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: %zu bytes are too few", capacity); \
        }                                                                                                  \
        return 0;                                                                                          \
    }

DISC_DEFINE_RESPONSE_BEGIN(disc_begin_fixed, tp_sbe_discovery, fixed)
DISC_DEFINE_RESPONSE_BEGIN(disc_begin_ref, tp_sbe_discovery_ref, ref)

int tp_proto_discovery_response_begin(tp_proto_discovery_response_encoder_t *enc, uint8_t *buf, size_t capacity,
    tp_proto_discovery_layout_t layout, uint64_t request_id, tp_sbe_discovery_discovery_status_t status,
    uint32_t result_count)
{
    if (NULL == enc || NULL == buf || result_count > TP_PROTO_DISCOVERY_MAX_RESULTS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: NULL argument or more than %u results",
            TP_PROTO_DISCOVERY_MAX_RESULTS);
    }
    memset(enc, 0, sizeof(*enc));
    enc->layout = layout;
    enc->expected = result_count;
    enc->capacity = capacity;
    return TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == layout
        ? disc_begin_ref(enc, buf, capacity, request_id, status, result_count)
        : disc_begin_fixed(enc, buf, capacity, request_id, status, result_count);
}

#define DISC_DEFINE_RESULT_ENCODER(FN, P, MEMBER, TAG_PUT)                                                 \
    static int FN(tp_proto_discovery_response_encoder_t *enc, const tp_proto_discovery_result_view_t *r)  \
    {                                                                                                      \
        P##_discovery_response_results_t *g = &enc->u.MEMBER.g;                                            \
        P##_discovery_response_results_payload_pools_t pg = { 0 };                                         \
        P##_discovery_response_results_tags_t tg = { 0 };                                                  \
        g->position_ptr = &enc->u.MEMBER.m.position;                                                       \
        if (TP_SBE_OK != P##_discovery_response_results_next(g))                                           \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: result does not fit");  \
        }                                                                                                  \
        P##_discovery_response_results_zero_padding(g);                                                    \
        P##_discovery_response_results_set_stream_id(g, r->stream_id);                                     \
        P##_discovery_response_results_set_producer_id(g, r->producer_id);                                 \
        P##_discovery_response_results_set_epoch(g, r->epoch);                                             \
        P##_discovery_response_results_set_layout_version(g, r->layout_version);                           \
        P##_discovery_response_results_set_header_nslots(g, r->header_nslots);                             \
        P##_discovery_response_results_set_header_slot_bytes(g, r->header_slot_bytes);                     \
        P##_discovery_response_results_set_max_dims(g, r->max_dims);                                       \
        P##_discovery_response_results_set_data_source_id(g, r->has_data_source_id ? r->data_source_id : UINT64_MAX); \
        P##_discovery_response_results_set_driver_control_stream_id(g, r->driver_control_stream_id);       \
        if (TP_SBE_OK != P##_discovery_response_results_set_payload_pools_count(g, &pg, (uint16_t)r->pool_count)) \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: pools do not fit");      \
        }                                                                                                  \
        for (uint32_t i = 0; i < r->pool_count; i++)                                                       \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_response_results_payload_pools_next(&pg))                       \
            {                                                                                              \
                return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: pool does not fit"); \
            }                                                                                              \
            P##_discovery_response_results_payload_pools_zero_padding(&pg);                                \
            P##_discovery_response_results_payload_pools_set_pool_id(&pg, r->pools[i].pool_id);            \
            P##_discovery_response_results_payload_pools_set_pool_nslots(&pg, r->pools[i].pool_nslots);    \
            P##_discovery_response_results_payload_pools_set_stride_bytes(&pg, r->pools[i].stride_bytes);  \
            if (TP_SBE_OK != P##_discovery_response_results_payload_pools_put_region_uri(&pg,              \
                                 r->pools[i].region_uri.data, r->pools[i].region_uri.length))              \
            {                                                                                              \
                return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: pool URI does not fit"); \
            }                                                                                              \
        }                                                                                                  \
        if (TP_SBE_OK != P##_discovery_response_results_set_tags_count(g, &tg, (uint16_t)r->tag_count))    \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: tags do not fit");       \
        }                                                                                                  \
        for (uint32_t i = 0; i < r->tag_count; i++)                                                        \
        {                                                                                                  \
            if (TP_SBE_OK != P##_discovery_response_results_tags_next(&tg) ||                              \
                TP_SBE_OK != TAG_PUT(&tg, r->tags[i].data, r->tags[i].length))                             \
            {                                                                                              \
                return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: tag does not fit");  \
            }                                                                                              \
        }                                                                                                  \
        if (TP_SBE_OK != P##_discovery_response_results_put_header_region_uri(g, r->header_region_uri.data, \
                             r->header_region_uri.length) ||                                               \
            TP_SBE_OK != P##_discovery_response_results_put_data_source_name(g, r->data_source_name.data,  \
                             r->data_source_name.length) ||                                                \
            TP_SBE_OK != P##_discovery_response_results_put_driver_instance_id(g, r->driver_instance_id.data, \
                             r->driver_instance_id.length) ||                                              \
            TP_SBE_OK != P##_discovery_response_results_put_driver_control_channel(g,                      \
                             r->driver_control_channel.data, r->driver_control_channel.length))            \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: strings do not fit");    \
        }                                                                                                  \
        return 0;                                                                                          \
    }

DISC_DEFINE_RESULT_ENCODER(disc_add_fixed, tp_sbe_discovery, fixed, DISC_TAG_PUT_FIXED)
DISC_DEFINE_RESULT_ENCODER(disc_add_ref, tp_sbe_discovery_ref, ref, DISC_TAG_PUT_REF)

int tp_proto_discovery_response_add(tp_proto_discovery_response_encoder_t *enc,
    const tp_proto_discovery_result_view_t *result)
{
    if (NULL == enc || NULL == result || enc->written >= enc->expected || result->pool_count > TP_PROTO_MAX_POOLS ||
        result->tag_count > TP_PROTO_DISCOVERY_MAX_TAGS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "DiscoveryResponse encode: NULL argument, more results than announced, or too many pools/tags");
    }
    int rc = TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == enc->layout ? disc_add_ref(enc, result) : disc_add_fixed(enc, result);
    if (0 == rc)
    {
        enc->written++;
    }
    return rc;
}

int tp_proto_discovery_response_finish(tp_proto_discovery_response_encoder_t *enc, const char *error_message,
    size_t error_length, size_t *length_out)
{
    if (NULL == enc || NULL == length_out || enc->written != enc->expected)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: NULL argument or %u of %u results written",
            NULL == enc ? 0u : enc->written, NULL == enc ? 0u : enc->expected);
    }
    uint32_t n = error_length > TP_PROTO_DISCOVERY_ERROR_WRITE_MAX ? TP_PROTO_DISCOVERY_ERROR_WRITE_MAX
                                                                   : (uint32_t)error_length;
    int rc;
    size_t body;
    if (TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == enc->layout)
    {
        rc = tp_sbe_discovery_ref_discovery_response_put_error_message(&enc->u.ref.m, error_message, n);
        body = tp_sbe_discovery_ref_discovery_response_encoded_length(&enc->u.ref.m);
    }
    else
    {
        rc = tp_sbe_discovery_discovery_response_put_error_message(&enc->u.fixed.m, error_message, n);
        body = tp_sbe_discovery_discovery_response_encoded_length(&enc->u.fixed.m);
    }
    if (TP_SBE_OK != rc)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "DiscoveryResponse encode: error message does not fit in %zu bytes",
            enc->capacity);
    }
    *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + body;
    return 0;
}

size_t tp_proto_discovery_result_encoded_length(const tp_proto_discovery_result_view_t *r,
    tp_proto_discovery_layout_t layout)
{
    size_t n = TP_SBE_DISCOVERY_DISCOVERY_RESPONSE_RESULTS_BLOCK_LENGTH + 2 * TP_SBE_GROUP_HEADER_LENGTH;
    for (uint32_t i = 0; i < r->pool_count && i < TP_PROTO_MAX_POOLS; i++)
    {
        n += 10 + TP_SBE_VAR_DATA_HEADER_LENGTH + r->pools[i].region_uri.length;
    }
    for (uint32_t i = 0; i < r->tag_count && i < TP_PROTO_DISCOVERY_MAX_TAGS; i++)
    {
        n += TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == layout ? 0 : TP_SBE_VAR_DATA_HEADER_LENGTH + r->tags[i].length;
    }
    n += 4 * TP_SBE_VAR_DATA_HEADER_LENGTH + r->header_region_uri.length + r->data_source_name.length +
        r->driver_instance_id.length + r->driver_control_channel.length;
    return n;
}

/* TensorHeader: registry, layout validation, codec glue (wire §8.2, §15.8). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/tp_error.h"
#include "tensor_pool/tp_tensor.h"
#include "tp_sbe/wire.h"
#include "tp_shm_internal.h"

#define TP_TENSOR_BLOCK_LENGTH 184u

const char *tp_drop_reason_name(int reason)
{
    static const char *const names[TP_DROP_REASON_COUNT] = {
        "TP_DROP_NONE",
        "TP_DROP_NOT_COMMITTED",
        "TP_DROP_SEQ_STALE",
        "TP_DROP_SEQ_AHEAD",
        "TP_DROP_LATE",
        "TP_DROP_HEADER_LENGTH",
        "TP_DROP_HEADER_SCHEMA_ID",
        "TP_DROP_HEADER_TEMPLATE_ID",
        "TP_DROP_HEADER_VERSION",
        "TP_DROP_HEADER_BLOCK_LENGTH",
        "TP_DROP_NDIMS",
        "TP_DROP_DTYPE",
        "TP_DROP_MAJOR_ORDER",
        "TP_DROP_PROGRESS_UNIT",
        "TP_DROP_DIM_NEGATIVE",
        "TP_DROP_STRIDE_NEGATIVE",
        "TP_DROP_STRIDE_LAYOUT",
        "TP_DROP_STRIDE_DTYPE",
        "TP_DROP_PROGRESS_STRIDE",
        "TP_DROP_EXTENT",
        "TP_DROP_PAYLOAD_OFFSET",
        "TP_DROP_VALUES_LEN",
        "TP_DROP_PAYLOAD_SLOT",
        "TP_DROP_POOL_UNKNOWN",
        "TP_DROP_BUFFER_TOO_SMALL",
        "TP_DROP_NOT_MAPPED",
    };
    if (reason < 0 || reason >= TP_DROP_REASON_COUNT)
    {
        return "UNKNOWN";
    }
    return names[reason];
}

size_t tp_dtype_element_size(int dtype)
{
    switch (dtype)
    {
        case TP_DTYPE_UINT8:
        case TP_DTYPE_INT8:
        case TP_DTYPE_BOOLEAN:
        case TP_DTYPE_BYTES:
            return 1;
        case TP_DTYPE_UINT16:
        case TP_DTYPE_INT16:
            return 2;
        case TP_DTYPE_UINT32:
        case TP_DTYPE_INT32:
        case TP_DTYPE_FLOAT32:
            return 4;
        case TP_DTYPE_UINT64:
        case TP_DTYPE_INT64:
        case TP_DTYPE_FLOAT64:
            return 8;
        default:
            return 0;
    }
}

bool tp_dtype_is_valid(int dtype)
{
    return TP_DTYPE_UNKNOWN == dtype || TP_DTYPE_BIT == dtype || tp_dtype_element_size(dtype) > 0;
}

const char *tp_dtype_name(int dtype)
{
    switch (dtype)
    {
        case TP_DTYPE_UNKNOWN: return "UNKNOWN";
        case TP_DTYPE_UINT8: return "UINT8";
        case TP_DTYPE_INT8: return "INT8";
        case TP_DTYPE_UINT16: return "UINT16";
        case TP_DTYPE_INT16: return "INT16";
        case TP_DTYPE_UINT32: return "UINT32";
        case TP_DTYPE_INT32: return "INT32";
        case TP_DTYPE_UINT64: return "UINT64";
        case TP_DTYPE_INT64: return "INT64";
        case TP_DTYPE_FLOAT32: return "FLOAT32";
        case TP_DTYPE_FLOAT64: return "FLOAT64";
        case TP_DTYPE_BOOLEAN: return "BOOLEAN";
        case TP_DTYPE_BYTES: return "BYTES";
        case TP_DTYPE_BIT: return "BIT";
        default: return "INVALID";
    }
}

const char *tp_major_order_name(int order)
{
    switch (order)
    {
        case TP_MAJOR_ORDER_UNKNOWN: return "UNKNOWN";
        case TP_MAJOR_ORDER_ROW: return "ROW";
        case TP_MAJOR_ORDER_COLUMN: return "COLUMN";
        default: return "INVALID";
    }
}

const char *tp_progress_unit_name(int unit)
{
    switch (unit)
    {
        case TP_PROGRESS_UNIT_NONE: return "NONE";
        case TP_PROGRESS_UNIT_ROWS: return "ROWS";
        case TP_PROGRESS_UNIT_COLUMNS: return "COLUMNS";
        default: return "INVALID";
    }
}

static uint64_t tp_mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* Dimension index of the k-th dimension counted from the innermost one. */
static unsigned tp_tensor_dim_from_inner(const tp_tensor_header_t *h, unsigned k)
{
    return TP_MAJOR_ORDER_ROW == h->major_order ? (unsigned)h->ndims - 1u - k : k;
}

/*
 * Validate everything and compute effective strides in "units": bytes, or bits
 * for TP_DTYPE_BIT. Returns the reason; fills eff[0..ndims) and *extent_bytes.
 */
static tp_drop_reason_t tp_tensor_analyze(const tp_tensor_header_t *h, uint64_t values_len_bytes, uint64_t *eff,
    uint64_t *extent_bytes)
{
    if (0 == h->ndims || h->ndims > TP_MAX_DIMS)
    {
        return TP_DROP_NDIMS;
    }
    const bool is_bit = TP_DTYPE_BIT == h->dtype;
    const uint64_t elem = is_bit ? 1u : (uint64_t)tp_dtype_element_size(h->dtype);
    if (0 == elem)
    {
        return TP_DROP_DTYPE;
    }
    if (TP_MAJOR_ORDER_ROW != h->major_order && TP_MAJOR_ORDER_COLUMN != h->major_order)
    {
        return TP_DROP_MAJOR_ORDER;
    }
    if (TP_PROGRESS_UNIT_NONE != h->progress_unit && TP_PROGRESS_UNIT_ROWS != h->progress_unit &&
        TP_PROGRESS_UNIT_COLUMNS != h->progress_unit)
    {
        return TP_DROP_PROGRESS_UNIT;
    }
    const unsigned n = h->ndims;
    bool empty = false;
    for (unsigned i = 0; i < n; i++)
    {
        if (h->dims[i] < 0)
        {
            return TP_DROP_DIM_NEGATIVE;
        }
        if (0 == h->dims[i])
        {
            empty = true;
        }
    }
    for (unsigned i = 0; i < n; i++)
    {
        if (h->strides[i] < 0)
        {
            return TP_DROP_STRIDE_NEGATIVE;
        }
        if (is_bit && 0 != h->strides[i])
        {
            return TP_DROP_STRIDE_DTYPE;
        }
    }

    /* Effective strides, innermost first, checking non-overlap as we go. */
    for (unsigned k = 0; k < n; k++)
    {
        unsigned d = tp_tensor_dim_from_inner(h, k);
        uint64_t min_stride;
        if (0 == k)
        {
            min_stride = elem;
        }
        else
        {
            unsigned inner = tp_tensor_dim_from_inner(h, k - 1);
            min_stride = tp_mul_sat(eff[inner], (uint64_t)h->dims[inner]);
        }
        if (0 == h->strides[d])
        {
            eff[d] = min_stride;
        }
        else
        {
            eff[d] = (uint64_t)h->strides[d];
            if (eff[d] < min_stride)
            {
                return TP_DROP_STRIDE_LAYOUT;
            }
        }
    }
    /*
     * A non-empty tensor whose strides do not fit in int64 fails the extent check below. An empty one has
     * extent 0 whatever its (possibly saturated, see tp_mul_sat) inferred strides: reject those here, so that
     * every accepted header has representable strides (tp_tensor_header_effective_stride() >= 0).
     */
    for (unsigned i = 0; empty && i < n; i++)
    {
        if (eff[i] > (uint64_t)INT64_MAX)
        {
            return TP_DROP_STRIDE_LAYOUT;
        }
    }

    if (TP_PROGRESS_UNIT_NONE != h->progress_unit)
    {
        unsigned pd;
        if (TP_MAJOR_ORDER_ROW == h->major_order)
        {
            pd = TP_PROGRESS_UNIT_ROWS == h->progress_unit ? (n >= 2 ? n - 2 : 0) : n - 1;
        }
        else
        {
            pd = TP_PROGRESS_UNIT_ROWS == h->progress_unit ? 0 : (n >= 2 ? 1 : 0);
        }
        uint64_t want = eff[pd];
        if (is_bit)
        {
            if (0 != want % 8)
            {
                return TP_DROP_PROGRESS_STRIDE;
            }
            want /= 8;
        }
        if (0 == h->progress_stride_bytes || (uint64_t)h->progress_stride_bytes != want)
        {
            return TP_DROP_PROGRESS_STRIDE;
        }
    }

    uint64_t extent = 0;
    if (!empty)
    {
        uint64_t last = 0;
        for (unsigned i = 0; i < n; i++)
        {
            uint64_t term;
            if (__builtin_mul_overflow((uint64_t)(h->dims[i] - 1), eff[i], &term) ||
                __builtin_add_overflow(last, term, &last))
            {
                return TP_DROP_EXTENT;
            }
        }
        if (__builtin_add_overflow(last, elem, &extent))
        {
            return TP_DROP_EXTENT;
        }
        if (is_bit)
        {
            extent = extent / 8 + (0 != extent % 8 ? 1 : 0);
        }
    }
    if (extent > values_len_bytes)
    {
        return TP_DROP_EXTENT;
    }
    if (NULL != extent_bytes)
    {
        *extent_bytes = extent;
    }
    return TP_DROP_NONE;
}

tp_drop_reason_t tp_tensor_header_check(const tp_tensor_header_t *header, uint64_t values_len_bytes,
    uint64_t *extent_out)
{
    uint64_t eff[TP_MAX_DIMS];
    uint64_t extent = 0;
    if (NULL == header)
    {
        return TP_DROP_NDIMS;
    }
    tp_drop_reason_t r = tp_tensor_analyze(header, values_len_bytes, eff, &extent);
    if (TP_DROP_NONE == r && NULL != extent_out)
    {
        *extent_out = extent;
    }
    return r;
}

int64_t tp_tensor_header_effective_stride(const tp_tensor_header_t *header, unsigned dim)
{
    uint64_t eff[TP_MAX_DIMS];
    if (NULL == header || dim >= header->ndims || dim >= TP_MAX_DIMS)
    {
        return -1;
    }
    tp_drop_reason_t r = tp_tensor_analyze(header, UINT64_MAX, eff, NULL);
    if (TP_DROP_NONE != r || eff[dim] > (uint64_t)INT64_MAX)
    {
        return -1;
    }
    if (TP_DTYPE_BIT == header->dtype)
    {
        return 0 == eff[dim] % 8 ? (int64_t)(eff[dim] / 8) : -1;
    }
    return (int64_t)eff[dim];
}

static void tp_tensor_format_dims(char *buf, size_t len, const int32_t *v, unsigned n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && i < TP_MAX_DIMS && off < len; i++)
    {
        int w = snprintf(buf + off, len - off, "%s%d", 0 == i ? "" : ",", (int)v[i]);
        if (w < 0)
        {
            break;
        }
        off += (size_t)w;
    }
}

int tp_tensor_header_validate(const tp_tensor_header_t *header, uint64_t values_len_bytes)
{
    if (NULL == header)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tensor header is NULL");
    }
    uint64_t eff[TP_MAX_DIMS];
    uint64_t extent = 0;
    tp_drop_reason_t r = tp_tensor_analyze(header, UINT64_MAX, eff, &extent);
    if (TP_DROP_NONE == r && extent <= values_len_bytes)
    {
        return 0; /* hot path (every producer commit): no formatting */
    }
    char dims[128];
    char strides[128];
    unsigned n = header->ndims > TP_MAX_DIMS ? TP_MAX_DIMS : header->ndims;
    tp_tensor_format_dims(dims, sizeof(dims), header->dims, n);
    tp_tensor_format_dims(strides, sizeof(strides), header->strides, n);
    switch (r)
    {
        case TP_DROP_NONE:
            if (extent > values_len_bytes)
            {
                return tp_err_set(TP_ERR_VALIDATION,
                    "tensor extent %llu bytes (dims [%s], strides [%s], %s) exceeds values_len_bytes %llu",
                    (unsigned long long)extent, dims, strides, tp_dtype_name(header->dtype),
                    (unsigned long long)values_len_bytes);
            }
            return 0;
        case TP_DROP_NDIMS:
            return tp_err_set(TP_ERR_VALIDATION, "tensor ndims %u is not in 1..%d", (unsigned)header->ndims,
                TP_MAX_DIMS);
        case TP_DROP_DTYPE:
            return tp_err_set(TP_ERR_VALIDATION, "tensor dtype %d (%s) is not a supported element type",
                (int)header->dtype, tp_dtype_name(header->dtype));
        case TP_DROP_MAJOR_ORDER:
            return tp_err_set(TP_ERR_VALIDATION, "tensor major_order %d (%s) must be ROW (1) or COLUMN (2)",
                (int)header->major_order, tp_major_order_name(header->major_order));
        case TP_DROP_PROGRESS_UNIT:
            return tp_err_set(TP_ERR_VALIDATION, "tensor progress_unit %d is not NONE, ROWS or COLUMNS",
                (int)header->progress_unit);
        case TP_DROP_DIM_NEGATIVE:
            return tp_err_set(TP_ERR_VALIDATION, "tensor dims [%s] contain a negative value", dims);
        case TP_DROP_STRIDE_NEGATIVE:
            return tp_err_set(TP_ERR_VALIDATION, "tensor strides [%s] contain a negative value (unsupported in v1.2)",
                strides);
        case TP_DROP_STRIDE_DTYPE:
            return tp_err_set(TP_ERR_VALIDATION, "tensor dtype BIT is bit-packed: strides [%s] must all be 0",
                strides);
        case TP_DROP_STRIDE_LAYOUT:
            return tp_err_set(TP_ERR_VALIDATION,
                "tensor strides [%s] overlap, contradict %s-major order or overflow 64 bits for dims [%s] (%s, %zu bytes/element)",
                strides, TP_MAJOR_ORDER_ROW == header->major_order ? "row" : "column", dims,
                tp_dtype_name(header->dtype), tp_dtype_element_size(header->dtype));
        case TP_DROP_PROGRESS_STRIDE:
            return tp_err_set(TP_ERR_VALIDATION,
                "tensor progress_stride_bytes %u is zero or not the true %s stride for dims [%s], strides [%s]",
                (unsigned)header->progress_stride_bytes,
                TP_PROGRESS_UNIT_ROWS == header->progress_unit ? "row" : "column", dims, strides);
        case TP_DROP_EXTENT:
            return tp_err_set(TP_ERR_VALIDATION, "tensor extent of dims [%s], strides [%s] overflows", dims, strides);
        default:
            return tp_err_set(TP_ERR_VALIDATION, "tensor header invalid: %s", tp_drop_reason_name(r));
    }
}

/*
 * The 192 bytes of an embedded TensorHeader (message header + 184-byte block),
 * written field by field with the generated little-endian stores: no flyweight
 * wrap and no separate zeroing pass (the frame hot path writes it straight into
 * the slot). ndims <= TP_MAX_DIMS is the caller's precondition; dims/strides
 * beyond ndims and the padding are written as zeros.
 */
void tp_tensor_header_encode_raw(const tp_tensor_header_t *header, uint8_t *buf)
{
    _Static_assert(TP_SBE_WIRE_TENSOR_HEADER_DTYPE_OFFSET == 0 && TP_SBE_WIRE_TENSOR_HEADER_MAJOR_ORDER_OFFSET == 2 &&
            TP_SBE_WIRE_TENSOR_HEADER_NDIMS_OFFSET == 4 && TP_SBE_WIRE_TENSOR_HEADER_PAD_ALIGN_OFFSET == 5 &&
            TP_SBE_WIRE_TENSOR_HEADER_PROGRESS_UNIT_OFFSET == 6 &&
            TP_SBE_WIRE_TENSOR_HEADER_PROGRESS_STRIDE_BYTES_OFFSET == 7 && TP_SBE_WIRE_TENSOR_HEADER_DIMS_OFFSET == 11 &&
            TP_SBE_WIRE_TENSOR_HEADER_STRIDES_OFFSET == 43 && TP_SBE_WIRE_TENSOR_HEADER_PAD_OFFSET == 75 &&
            TP_SBE_WIRE_TENSOR_HEADER_BLOCK_LENGTH == TP_TENSOR_BLOCK_LENGTH,
        "TensorHeader layout changed: update tp_tensor_header_encode_raw/decode");
    tp_sbe_put_header(buf, TP_TENSOR_BLOCK_LENGTH, TP_SBE_WIRE_TENSOR_HEADER_TEMPLATE_ID, TP_SBE_WIRE_SCHEMA_ID,
        TP_SBE_WIRE_SCHEMA_VERSION);
    uint8_t *m = buf + TP_SBE_MESSAGE_HEADER_LENGTH;
    tp_sbe_put_i16(m + 0, (int16_t)header->dtype);
    tp_sbe_put_i16(m + 2, (int16_t)header->major_order);
    m[4] = header->ndims;
    m[5] = 0;
    m[6] = (uint8_t)header->progress_unit;
    tp_sbe_put_u32(m + 7, header->progress_stride_bytes);
    for (unsigned i = 0; i < TP_MAX_DIMS; i++)
    {
        bool used = i < header->ndims;
        tp_sbe_put_i32(m + 11 + 4 * i, used ? header->dims[i] : 0);
        tp_sbe_put_i32(m + 43 + 4 * i, used ? header->strides[i] : 0);
    }
    memset(m + 75, 0, TP_TENSOR_BLOCK_LENGTH - 75);
}

int tp_tensor_header_encode(const tp_tensor_header_t *header, uint8_t *buf, size_t len)
{
    if (NULL == header || NULL == buf)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tensor_header_encode: NULL argument");
    }
    if (len < TP_TENSOR_HEADER_ENCODED_LENGTH)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tensor header needs %d bytes, buffer has %zu",
            TP_TENSOR_HEADER_ENCODED_LENGTH, len);
    }
    if (header->ndims > TP_MAX_DIMS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tensor ndims %u exceeds %d", (unsigned)header->ndims,
            TP_MAX_DIMS);
    }
    tp_tensor_header_encode_raw(header, buf);
    return 0;
}

/* Message header checks of an embedded TensorHeader, in the order of the drop reasons. */
static inline tp_drop_reason_t tp_tensor_header_check_message_header(const uint8_t *buf)
{
    if (TP_SBE_WIRE_SCHEMA_ID != tp_sbe_get_u16(buf + 4))
    {
        return TP_DROP_HEADER_SCHEMA_ID;
    }
    if (TP_SBE_WIRE_TENSOR_HEADER_TEMPLATE_ID != tp_sbe_get_u16(buf + 2))
    {
        return TP_DROP_HEADER_TEMPLATE_ID;
    }
    if (tp_sbe_get_u16(buf + 6) > TP_SBE_WIRE_SCHEMA_VERSION)
    {
        return TP_DROP_HEADER_VERSION;
    }
    if (TP_TENSOR_BLOCK_LENGTH != tp_sbe_get_u16(buf))
    {
        return TP_DROP_HEADER_BLOCK_LENGTH;
    }
    return TP_DROP_NONE;
}

/*
 * The TensorHeader block at m (after the message header) into *out; dims and
 * strides: all TP_MAX_DIMS, or with used_dims_only only those below ndims.
 * Inlined with a constant used_dims_only, so each caller keeps its own code.
 */
static inline void tp_tensor_header_decode_fields(const uint8_t *m, tp_tensor_header_t *out, bool used_dims_only)
{
    memset(out, 0, sizeof(*out));
    out->dtype = (tp_dtype_t)tp_sbe_get_i16(m + 0);
    out->major_order = (tp_major_order_t)tp_sbe_get_i16(m + 2);
    out->ndims = m[4];
    out->progress_unit = (tp_progress_unit_t)m[6];
    out->progress_stride_bytes = tp_sbe_get_u32(m + 7);
    unsigned n = !used_dims_only ? TP_MAX_DIMS : out->ndims < TP_MAX_DIMS ? out->ndims : TP_MAX_DIMS;
    for (unsigned i = 0; i < n; i++)
    {
        out->dims[i] = tp_sbe_get_i32(m + 11 + 4 * i);
        out->strides[i] = tp_sbe_get_i32(m + 43 + 4 * i);
    }
}

tp_drop_reason_t tp_tensor_header_decode_used(const uint8_t *buf, tp_tensor_header_t *out)
{
    tp_drop_reason_t r = tp_tensor_header_check_message_header(buf);
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    tp_tensor_header_decode_fields(buf + TP_SBE_MESSAGE_HEADER_LENGTH, out, true);
    return TP_DROP_NONE;
}

tp_drop_reason_t tp_tensor_header_decode(const uint8_t *buf, size_t len, tp_tensor_header_t *out)
{
    if (NULL == buf || len != TP_TENSOR_HEADER_ENCODED_LENGTH)
    {
        return TP_DROP_HEADER_LENGTH;
    }
    tp_drop_reason_t r = tp_tensor_header_check_message_header(buf);
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    tp_tensor_header_decode_fields(buf + TP_SBE_MESSAGE_HEADER_LENGTH, out, false);
    return TP_DROP_NONE;
}

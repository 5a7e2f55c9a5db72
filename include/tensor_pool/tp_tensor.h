/*
 * tensorpool: tensor header (the TensorHeader embedded in every header-ring
 * slot, wire spec v1.2 §8.2, §15.8) and the frame drop reasons shared by the
 * shared-memory read path.
 */
#ifndef TENSOR_POOL_TP_TENSOR_H
#define TENSOR_POOL_TP_TENSOR_H

#include "tensor_pool/tp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** MAX_DIMS of wire v1.2 (changing it needs a new layout_version). */
#define TP_MAX_DIMS 8

/**
 * Scalar element type (wire §15.8 registry; values are normative). 12 is
 * not assigned by the wire v1.2 registry (and is rejected as TP_DROP_DTYPE).
 */
typedef enum tp_dtype_enum
{
    TP_DTYPE_UNKNOWN = 0,
    TP_DTYPE_UINT8 = 1,
    TP_DTYPE_INT8 = 2,
    TP_DTYPE_UINT16 = 3,
    TP_DTYPE_INT16 = 4,
    TP_DTYPE_UINT32 = 5,
    TP_DTYPE_INT32 = 6,
    TP_DTYPE_UINT64 = 7,
    TP_DTYPE_INT64 = 8,
    TP_DTYPE_FLOAT32 = 9,
    TP_DTYPE_FLOAT64 = 10,
    TP_DTYPE_BOOLEAN = 11,
    TP_DTYPE_BYTES = 13,
    TP_DTYPE_BIT = 14
} tp_dtype_t;

/** Memory order of the dimensions (wire §15.8). */
typedef enum tp_major_order_enum
{
    TP_MAJOR_ORDER_UNKNOWN = 0,
    TP_MAJOR_ORDER_ROW = 1,
    TP_MAJOR_ORDER_COLUMN = 2
} tp_major_order_t;

/** Unit of FrameProgress hints (wire §8.2). */
typedef enum tp_progress_unit_enum
{
    TP_PROGRESS_UNIT_NONE = 0,
    TP_PROGRESS_UNIT_ROWS = 1,
    TP_PROGRESS_UNIT_COLUMNS = 2
} tp_progress_unit_t;

/**
 * Decoded TensorHeader. Entries of dims/strides at index >= ndims are ignored
 * by readers and written as zeros by tp_tensor_header_encode().
 *
 * Layout rules enforced by tp_tensor_header_check():
 * - ndims in 1..TP_MAX_DIMS; dtype one of the registry values except UNKNOWN;
 *   major_order ROW or COLUMN; progress_unit NONE, ROWS or COLUMNS.
 * - dims[i] >= 0. A zero dimension is allowed and describes an empty tensor
 *   (extent 0 bytes).
 * - strides[i] >= 0 (bytes). 0 means "inferred contiguous": for row-major the
 *   innermost dimension is ndims-1, for column-major it is 0; an inferred
 *   stride is the element size for the innermost dimension and
 *   stride(inner) * dim(inner) otherwise. Explicit strides must not overlap:
 *   innermost stride >= element size and each outer stride >= the next inner
 *   stride times the next inner dimension.
 *   In an empty tensor (a zero dimension) every effective stride must still
 *   fit in int64 (in bits for TP_DTYPE_BIT), else TP_DROP_STRIDE_LAYOUT.
 * - TP_DTYPE_BIT is bit-packed: its strides must all be 0 (inferred) and its
 *   extent is ceil(element count / 8) bytes; progress hints need a whole
 *   number of bytes per row/column.
 * - Progress: the row dimension is ndims-2 and the column dimension ndims-1
 *   for row-major; 0 and 1 for column-major (a 1-D tensor uses dimension 0 for
 *   both). When progress_unit != NONE, progress_stride_bytes must equal the
 *   (effective) stride of that dimension.
 * - The extent (last addressed byte + 1) must fit in values_len_bytes.
 */
typedef struct tp_tensor_header_stct
{
    tp_dtype_t dtype;
    tp_major_order_t major_order;
    uint8_t ndims;
    tp_progress_unit_t progress_unit;
    uint32_t progress_stride_bytes;
    int32_t dims[TP_MAX_DIMS];
    int32_t strides[TP_MAX_DIMS];
} tp_tensor_header_t;

/**
 * Why a frame read from shared memory was dropped (or rejected on write). One
 * distinct value per rule so that callers can keep per-reason drop counters.
 */
typedef enum tp_drop_reason_enum
{
    TP_DROP_NONE = 0,                  /**< accepted */
    TP_DROP_NOT_COMMITTED = 1,         /**< seq_commit LSB is 0: write in progress */
    TP_DROP_SEQ_STALE = 2,             /**< slot holds an older sequence than expected (not yet rewritten / regression) */
    TP_DROP_SEQ_AHEAD = 3,             /**< slot already holds a newer sequence (overwritten) */
    TP_DROP_LATE = 4,                  /**< seq_commit changed while the frame was being read */
    TP_DROP_HEADER_LENGTH = 5,         /**< headerBytes length != 8 + 184 */
    TP_DROP_HEADER_SCHEMA_ID = 6,      /**< embedded header schemaId != 900 */
    TP_DROP_HEADER_TEMPLATE_ID = 7,    /**< embedded header templateId != 52 (TensorHeader) */
    TP_DROP_HEADER_VERSION = 8,        /**< embedded header version newer than supported */
    TP_DROP_HEADER_BLOCK_LENGTH = 9,   /**< embedded header blockLength != 184 */
    TP_DROP_NDIMS = 10,                /**< ndims == 0 or > TP_MAX_DIMS */
    TP_DROP_DTYPE = 11,                /**< unknown or UNKNOWN dtype */
    TP_DROP_MAJOR_ORDER = 12,          /**< unknown or UNKNOWN major order */
    TP_DROP_PROGRESS_UNIT = 13,        /**< unknown progress unit */
    TP_DROP_DIM_NEGATIVE = 14,         /**< a dimension < 0 */
    TP_DROP_STRIDE_NEGATIVE = 15,      /**< a stride < 0 (unsupported in v1.2) */
    TP_DROP_STRIDE_LAYOUT = 16,        /**< strides overlap or contradict major_order */
    TP_DROP_STRIDE_DTYPE = 17,         /**< explicit strides given for a bit-packed dtype */
    TP_DROP_PROGRESS_STRIDE = 18,      /**< progress_stride_bytes zero or not the true row/column stride */
    TP_DROP_EXTENT = 19,               /**< tensor extent larger than values_len_bytes */
    TP_DROP_PAYLOAD_OFFSET = 20,       /**< payload_offset != 0 */
    TP_DROP_VALUES_LEN = 21,           /**< values_len_bytes > pool stride_bytes */
    TP_DROP_PAYLOAD_SLOT = 22,         /**< payload_slot != header_index or out of range */
    TP_DROP_POOL_UNKNOWN = 23,         /**< pool_id not among the mapped pools */
    TP_DROP_BUFFER_TOO_SMALL = 24,     /**< copy-out destination smaller than values_len_bytes */
    TP_DROP_NOT_MAPPED = 25,           /**< region not mapped / wrong region type */
    TP_DROP_REASON_COUNT = 26
} tp_drop_reason_t;

/** Stable name of a drop reason, e.g. "TP_DROP_LATE" ("UNKNOWN" if out of range). */
TP_EXPORT const char *tp_drop_reason_name(int reason);

/** Size in bytes of one element of `dtype`; 0 for TP_DTYPE_BIT (bit-packed) and unknown types. */
TP_EXPORT size_t tp_dtype_element_size(int dtype);

/** True for the registry values of §15.8 (UNKNOWN included). */
TP_EXPORT bool tp_dtype_is_valid(int dtype);

/** Registry name of a dtype ("FLOAT32", ...); "INVALID" when not a registry value. */
TP_EXPORT const char *tp_dtype_name(int dtype);

/** "ROW", "COLUMN", "UNKNOWN" or "INVALID". */
TP_EXPORT const char *tp_major_order_name(int order);

/** "NONE", "ROWS", "COLUMNS" or "INVALID". */
TP_EXPORT const char *tp_progress_unit_name(int unit);

/**
 * Check a tensor header against every rule listed at tp_tensor_header_t for a
 * payload of `values_len_bytes` bytes. Returns TP_DROP_NONE or the first
 * violated rule; stores the extent in bytes in *extent_out when non-NULL and
 * the header is valid. Never allocates or sets the error state (hot path).
 */
TP_EXPORT tp_drop_reason_t tp_tensor_header_check(
    const tp_tensor_header_t *header, uint64_t values_len_bytes, uint64_t *extent_out);

/**
 * Like tp_tensor_header_check() but for producers and tools: returns 0, or -1
 * with TP_ERR_VALIDATION and a message naming the rule and the values.
 */
TP_EXPORT int tp_tensor_header_validate(const tp_tensor_header_t *header, uint64_t values_len_bytes);

/**
 * Effective stride of dimension `dim` in bytes (explicit or inferred), or -1
 * if the header is not valid enough to compute it (see tp_tensor_header_check).
 */
TP_EXPORT int64_t tp_tensor_header_effective_stride(const tp_tensor_header_t *header, unsigned dim);

/** Size in bytes of the TensorHeader as embedded in a slot: 8-byte SBE header + 184-byte block. */
#define TP_TENSOR_HEADER_ENCODED_LENGTH 192

/**
 * Encode `header` as an SBE TensorHeader message with its 8-byte message
 * header into `buf` (at least TP_TENSOR_HEADER_ENCODED_LENGTH bytes). Writes
 * every byte: dims/strides beyond ndims and all padding are zero.
 * Returns 0, or -1 if `len` is too small or ndims > TP_MAX_DIMS.
 */
TP_EXPORT int tp_tensor_header_encode(const tp_tensor_header_t *header, uint8_t *buf, size_t len);

/**
 * Decode an embedded TensorHeader (message header + block) of exactly `len`
 * bytes. Checks the length (must be 192), schemaId, templateId, version and
 * blockLength, then reads the fields (no layout checks: use
 * tp_tensor_header_check()). Returns TP_DROP_NONE or the TP_DROP_HEADER_* reason.
 */
TP_EXPORT tp_drop_reason_t tp_tensor_header_decode(const uint8_t *buf, size_t len, tp_tensor_header_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_TENSOR_H */

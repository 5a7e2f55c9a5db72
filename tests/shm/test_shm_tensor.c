/* TensorHeader rules (wire §8.2, §8.3 step 5, §10.2.1, §15.8). */
#include "tp_test.h"

#include "tensor_pool/tp_tensor.h"

#ifndef TP_TEST_VECTORS_DIR
#define TP_TEST_VECTORS_DIR "tests/vectors"
#endif
static const char *g_vectors_dir = NULL;

/* TensorHeader.bin (vectors/wire), with its two reserved pad bytes (0xa1 at 13, 0xa2 at 83). */
static uint8_t golden_tensor[192] = {
    0xb8, 0x00, 0x34, 0x00, 0x84, 0x03, 0x01, 0x00, 0x09, 0x00, 0x01, 0x00, 0x03, 0xa1, 0x01, 0x00,
    0x0a, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0xe0, 0x01, 0x00, 0x00, 0x80, 0x02, 0x00, 0x00,
};

static void init_golden_tensor(void)
{
    /* strides [1228800, 2560, 4] at body offset 43 (buffer 51), pad 0xa2 at buffer 83. */
    const uint8_t strides[12] = { 0x00, 0xc0, 0x12, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00 };
    memcpy(golden_tensor + 51, strides, sizeof(strides));
    golden_tensor[83] = 0xa2;
}

static tp_tensor_header_t golden_values(void)
{
    tp_tensor_header_t h;
    memset(&h, 0, sizeof(h));
    h.dtype = TP_DTYPE_FLOAT32;
    h.major_order = TP_MAJOR_ORDER_ROW;
    h.ndims = 3;
    h.progress_unit = TP_PROGRESS_UNIT_ROWS;
    h.progress_stride_bytes = 2560;
    h.dims[0] = 3;
    h.dims[1] = 480;
    h.dims[2] = 640;
    h.strides[0] = 1228800;
    h.strides[1] = 2560;
    h.strides[2] = 4;
    return h;
}

static tp_tensor_header_t mat(tp_dtype_t dt, tp_major_order_t order, int32_t d0, int32_t d1, int32_t s0, int32_t s1)
{
    tp_tensor_header_t h;
    memset(&h, 0, sizeof(h));
    h.dtype = dt;
    h.major_order = order;
    h.ndims = 2;
    h.dims[0] = d0;
    h.dims[1] = d1;
    h.strides[0] = s0;
    h.strides[1] = s1;
    return h;
}

static void test_shm_tensor_golden_encode_decode(void)
{
    init_golden_tensor();
    tp_tensor_header_t h = golden_values();
    uint64_t extent = 0;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 3686400, &extent));
    TP_ASSERT_EQ_U64(3686400, extent);
    uint8_t buf[192];
    memset(buf, 0x55, sizeof(buf));
    TP_ASSERT_OK(tp_tensor_header_encode(&h, buf, sizeof(buf)));
    /* Same bytes as the golden vector except the reserved pads, which we write as zero. */
    uint8_t want[192];
    memcpy(want, golden_tensor, sizeof(want));
    want[13] = 0;
    want[83] = 0;
    TP_ASSERT_MSG(0 == memcmp(buf, want, 192), "encoded TensorHeader differs from the golden vector");
    {
        char path[1024];
        snprintf(path, sizeof(path), "%s/wire/TensorHeader.bin", g_vectors_dir);
        FILE *f = fopen(path, "rb");
        TP_ASSERT_MSG(NULL != f, "golden vector %s is missing (TP_VECTORS_DIR)", path);
        {
            uint8_t file[193];
            size_t n = fread(file, 1, sizeof(file), f);
            fclose(f);
            TP_ASSERT_EQ_U64(192, n);
            TP_ASSERT_MSG(0 == memcmp(file, golden_tensor, 192), "embedded copy differs from %s", path);
        }
    }
    /* Decoding the golden bytes (non-zero pads: consumers ignore them). */
    tp_tensor_header_t d;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_decode(golden_tensor, 192, &d));
    TP_ASSERT(0 == memcmp(&d, &h, sizeof(h)));
}

static void test_shm_tensor_encode_zero_fills_unused_dims(void)
{
    tp_tensor_header_t h = mat(TP_DTYPE_UINT8, TP_MAJOR_ORDER_ROW, 2, 3, 0, 0);
    for (int i = 2; i < TP_MAX_DIMS; i++)
    {
        h.dims[i] = 77;
        h.strides[i] = 99;
    }
    uint8_t buf[192];
    TP_ASSERT_OK(tp_tensor_header_encode(&h, buf, sizeof(buf)));
    tp_tensor_header_t d;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_decode(buf, 192, &d));
    for (int i = 2; i < TP_MAX_DIMS; i++)
    {
        TP_ASSERT_EQ_I64(0, d.dims[i]);
        TP_ASSERT_EQ_I64(0, d.strides[i]);
    }
    /* Consumers ignore entries beyond ndims: non-zero garbage there is not a rejection. */
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 6, NULL));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_tensor_header_encode(&h, buf, 191));
}

static void test_shm_tensor_decode_embedded_header_checks(void)
{
    tp_tensor_header_t h = golden_values();
    uint8_t buf[194];
    tp_tensor_header_t d;
    TP_ASSERT_OK(tp_tensor_header_encode(&h, buf, sizeof(buf)));
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_LENGTH, tp_tensor_header_decode(buf, 191, &d));
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_LENGTH, tp_tensor_header_decode(buf, 193, &d));
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_LENGTH, tp_tensor_header_decode(buf, 0, &d));
    uint8_t t[192];
    memcpy(t, buf, 192);
    t[4] = 0x85; /* schemaId 901 */
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_SCHEMA_ID, tp_tensor_header_decode(t, 192, &d));
    memcpy(t, buf, 192);
    t[2] = 51; /* templateId SlotHeader */
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_TEMPLATE_ID, tp_tensor_header_decode(t, 192, &d));
    memcpy(t, buf, 192);
    t[6] = 2; /* version 2 */
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_VERSION, tp_tensor_header_decode(t, 192, &d));
    memcpy(t, buf, 192);
    t[6] = 0; /* version 0: older, accepted */
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_decode(t, 192, &d));
    memcpy(t, buf, 192);
    t[0] = 183; /* blockLength 183 */
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_BLOCK_LENGTH, tp_tensor_header_decode(t, 192, &d));
    t[0] = 185;
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_BLOCK_LENGTH, tp_tensor_header_decode(t, 192, &d));
}

static void test_shm_tensor_ndims_dtype_order_unit(void)
{
    tp_tensor_header_t h = golden_values();
    h.ndims = 0;
    TP_ASSERT_EQ_I64(TP_DROP_NDIMS, tp_tensor_header_check(&h, 1 << 30, NULL));
    h.ndims = 9;
    TP_ASSERT_EQ_I64(TP_DROP_NDIMS, tp_tensor_header_check(&h, 1 << 30, NULL));
    h = golden_values();
    int bad_dtypes[] = { 0, 12, 15, 255, -1 };
    for (size_t i = 0; i < sizeof(bad_dtypes) / sizeof(bad_dtypes[0]); i++)
    {
        h.dtype = (tp_dtype_t)bad_dtypes[i];
        TP_ASSERT_EQ_I64(TP_DROP_DTYPE, tp_tensor_header_check(&h, 1 << 30, NULL));
    }
    h = golden_values();
    h.major_order = TP_MAJOR_ORDER_UNKNOWN;
    TP_ASSERT_EQ_I64(TP_DROP_MAJOR_ORDER, tp_tensor_header_check(&h, 1 << 30, NULL));
    h.major_order = (tp_major_order_t)3;
    TP_ASSERT_EQ_I64(TP_DROP_MAJOR_ORDER, tp_tensor_header_check(&h, 1 << 30, NULL));
    h = golden_values();
    h.progress_unit = (tp_progress_unit_t)3;
    TP_ASSERT_EQ_I64(TP_DROP_PROGRESS_UNIT, tp_tensor_header_check(&h, 1 << 30, NULL));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_tensor_header_validate(&h, 1 << 30));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "progress_unit"));
}

static void test_shm_tensor_dims_and_strides_sign(void)
{
    tp_tensor_header_t h = mat(TP_DTYPE_INT16, TP_MAJOR_ORDER_ROW, 4, -1, 0, 0);
    TP_ASSERT_EQ_I64(TP_DROP_DIM_NEGATIVE, tp_tensor_header_check(&h, 1024, NULL));
    h = mat(TP_DTYPE_INT16, TP_MAJOR_ORDER_ROW, 4, 4, -8, 2);
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_NEGATIVE, tp_tensor_header_check(&h, 1024, NULL));
    /* Zero dims: an empty tensor, allowed, extent 0 (fits values_len_bytes 0). */
    uint64_t extent = 99;
    h = mat(TP_DTYPE_INT16, TP_MAJOR_ORDER_ROW, 0, 4, 0, 0);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 0, &extent));
    TP_ASSERT_EQ_U64(0, extent);
}

/*
 * Found by fuzz_superblock: an empty tensor (one zero dim) whose inferred
 * outer strides overflow (saturate) passed tp_tensor_header_check with extent
 * 0, yet tp_tensor_header_effective_stride() returned -1 for it. Strides that
 * do not fit in int64 are now rejected as a layout error, empty or not.
 */
static void test_shm_tensor_empty_with_overflowing_strides(void)
{
    tp_tensor_header_t h;
    memset(&h, 0, sizeof(h));
    h.dtype = TP_DTYPE_FLOAT32;
    h.major_order = TP_MAJOR_ORDER_ROW;
    h.ndims = 4;
    h.dims[0] = 16121856;
    h.dims[1] = 1912602624;
    h.dims[2] = 1912602624;
    h.dims[3] = 0; /* empty */
    h.strides[2] = 713475;
    uint64_t extent = 99;
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_LAYOUT, tp_tensor_header_check(&h, UINT32_MAX, &extent));
    TP_ASSERT_EQ_U64(99, extent);
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_tensor_header_validate(&h, UINT32_MAX));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "overflow 64 bits"));
    TP_ASSERT_EQ_I64(-1, tp_tensor_header_effective_stride(&h, 0));
    /* Smaller outer dims: every stride fits in int64, so the empty tensor is accepted. */
    h.dims[0] = 1;
    h.dims[1] = 1000;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 0, &extent));
    TP_ASSERT_EQ_U64(0, extent);
    for (unsigned d = 0; d < h.ndims; d++)
    {
        TP_ASSERT(tp_tensor_header_effective_stride(&h, d) >= 0);
    }
    TP_ASSERT_EQ_I64((int64_t)713475 * 1912602624, tp_tensor_header_effective_stride(&h, 1));
}

static void test_shm_tensor_strides_layout(void)
{
    uint64_t extent = 0;
    /* Contiguous inferred. */
    tp_tensor_header_t h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 0, 0);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 80, &extent));
    TP_ASSERT_EQ_U64(80, extent);
    TP_ASSERT_EQ_I64(20, tp_tensor_header_effective_stride(&h, 0));
    TP_ASSERT_EQ_I64(4, tp_tensor_header_effective_stride(&h, 1));
    /* Explicit contiguous, and padded rows. */
    h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 20, 4);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 80, NULL));
    h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 32, 4);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 116, &extent));
    TP_ASSERT_EQ_U64(3 * 32 + 4 * 4 + 4, extent);
    /* Mixed: inner explicit, outer inferred from it. */
    h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 0, 8);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 1000, NULL));
    TP_ASSERT_EQ_I64(40, tp_tensor_header_effective_stride(&h, 0));
    /* Overlap: rows closer than a row's length. */
    h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 16, 4);
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_LAYOUT, tp_tensor_header_check(&h, 1000, NULL));
    /* Overlap: elements closer than their size. */
    h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 0, 2);
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_LAYOUT, tp_tensor_header_check(&h, 1000, NULL));
    /* Contradicts row-major: column-major strides. */
    h = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 4, 16);
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_LAYOUT, tp_tensor_header_check(&h, 1000, NULL));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_tensor_header_validate(&h, 1000));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "row-major"));
    /* ...which are right for column-major. */
    h.major_order = TP_MAJOR_ORDER_COLUMN;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 80, &extent));
    TP_ASSERT_EQ_U64(80, extent);
    /* Column-major inferred: dim 0 innermost. */
    h = mat(TP_DTYPE_UINT16, TP_MAJOR_ORDER_COLUMN, 3, 7, 0, 0);
    TP_ASSERT_EQ_I64(2, tp_tensor_header_effective_stride(&h, 0));
    TP_ASSERT_EQ_I64(6, tp_tensor_header_effective_stride(&h, 1));
    /* Row-major strides contradict column-major. */
    h = mat(TP_DTYPE_UINT16, TP_MAJOR_ORDER_COLUMN, 3, 7, 14, 2);
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_LAYOUT, tp_tensor_header_check(&h, 1000, NULL));
    /* 8-D contiguous. */
    tp_tensor_header_t e;
    memset(&e, 0, sizeof(e));
    e.dtype = TP_DTYPE_UINT8;
    e.major_order = TP_MAJOR_ORDER_ROW;
    e.ndims = 8;
    for (int i = 0; i < 8; i++)
    {
        e.dims[i] = 2;
    }
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&e, 256, &extent));
    TP_ASSERT_EQ_U64(256, extent);
}

static void test_shm_tensor_bit_dtype(void)
{
    uint64_t extent = 0;
    tp_tensor_header_t h = mat(TP_DTYPE_BIT, TP_MAJOR_ORDER_ROW, 3, 10, 0, 0);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 4, &extent));
    TP_ASSERT_EQ_U64(4, extent);
    TP_ASSERT_EQ_I64(TP_DROP_EXTENT, tp_tensor_header_check(&h, 3, NULL));
    h.strides[1] = 1;
    TP_ASSERT_EQ_I64(TP_DROP_STRIDE_DTYPE, tp_tensor_header_check(&h, 100, NULL));
    /* Progress by rows needs whole bytes per row. */
    h = mat(TP_DTYPE_BIT, TP_MAJOR_ORDER_ROW, 3, 10, 0, 0);
    h.progress_unit = TP_PROGRESS_UNIT_ROWS;
    h.progress_stride_bytes = 1;
    TP_ASSERT_EQ_I64(TP_DROP_PROGRESS_STRIDE, tp_tensor_header_check(&h, 100, NULL));
    h.dims[1] = 16;
    h.progress_stride_bytes = 2;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 6, NULL));
}

static void test_shm_tensor_progress_stride(void)
{
    tp_tensor_header_t h = golden_values();
    h.progress_stride_bytes = 0;
    TP_ASSERT_EQ_I64(TP_DROP_PROGRESS_STRIDE, tp_tensor_header_check(&h, 3686400, NULL));
    h.progress_stride_bytes = 2564;
    TP_ASSERT_EQ_I64(TP_DROP_PROGRESS_STRIDE, tp_tensor_header_check(&h, 3686400, NULL));
    /* Inferred strides: the true row stride is still 2560. */
    h = golden_values();
    memset(h.strides, 0, sizeof(h.strides));
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&h, 3686400, NULL));
    /* Padded rows: progress stride must follow the padding. */
    tp_tensor_header_t m = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_ROW, 4, 5, 32, 0);
    m.progress_unit = TP_PROGRESS_UNIT_ROWS;
    m.progress_stride_bytes = 20;
    TP_ASSERT_EQ_I64(TP_DROP_PROGRESS_STRIDE, tp_tensor_header_check(&m, 1000, NULL));
    m.progress_stride_bytes = 32;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&m, 1000, NULL));
    /* Row-major COLUMNS: the element stride of the last dim. */
    m.progress_unit = TP_PROGRESS_UNIT_COLUMNS;
    m.progress_stride_bytes = 4;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&m, 1000, NULL));
    /* Column-major: COLUMNS = stride of dim 1, ROWS = stride of dim 0. */
    m = mat(TP_DTYPE_FLOAT32, TP_MAJOR_ORDER_COLUMN, 4, 5, 0, 0);
    m.progress_unit = TP_PROGRESS_UNIT_COLUMNS;
    m.progress_stride_bytes = 16;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&m, 80, NULL));
    m.progress_unit = TP_PROGRESS_UNIT_ROWS;
    TP_ASSERT_EQ_I64(TP_DROP_PROGRESS_STRIDE, tp_tensor_header_check(&m, 80, NULL));
    m.progress_stride_bytes = 4;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&m, 80, NULL));
    /* NONE: progress_stride_bytes is not interpreted. */
    m.progress_unit = TP_PROGRESS_UNIT_NONE;
    m.progress_stride_bytes = 12345;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&m, 80, NULL));
    /* 1-D: dimension 0. */
    tp_tensor_header_t v = mat(TP_DTYPE_FLOAT64, TP_MAJOR_ORDER_ROW, 10, 0, 0, 0);
    v.ndims = 1;
    v.progress_unit = TP_PROGRESS_UNIT_ROWS;
    v.progress_stride_bytes = 8;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_tensor_header_check(&v, 80, NULL));
}

static void test_shm_tensor_extent_fits_values_len(void)
{
    tp_tensor_header_t h = golden_values();
    TP_ASSERT_EQ_I64(TP_DROP_EXTENT, tp_tensor_header_check(&h, 3686399, NULL));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_tensor_header_validate(&h, 3686399));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "exceeds values_len_bytes"));
    TP_ASSERT_OK(tp_tensor_header_validate(&h, 3686400));
    /* Huge dims/strides: no overflow, rejected. */
    tp_tensor_header_t big;
    memset(&big, 0, sizeof(big));
    big.dtype = TP_DTYPE_FLOAT64;
    big.major_order = TP_MAJOR_ORDER_ROW;
    big.ndims = 8;
    for (int i = 0; i < 8; i++)
    {
        big.dims[i] = INT32_MAX;
    }
    TP_ASSERT_EQ_I64(TP_DROP_EXTENT, tp_tensor_header_check(&big, UINT32_MAX, NULL));
    big.strides[0] = INT32_MAX;
    TP_ASSERT(TP_DROP_NONE != tp_tensor_header_check(&big, UINT64_MAX, NULL));
}

static void test_shm_tensor_registry(void)
{
    TP_ASSERT_EQ_U64(1, tp_dtype_element_size(TP_DTYPE_UINT8));
    TP_ASSERT_EQ_U64(1, tp_dtype_element_size(TP_DTYPE_INT8));
    TP_ASSERT_EQ_U64(2, tp_dtype_element_size(TP_DTYPE_UINT16));
    TP_ASSERT_EQ_U64(2, tp_dtype_element_size(TP_DTYPE_INT16));
    TP_ASSERT_EQ_U64(4, tp_dtype_element_size(TP_DTYPE_UINT32));
    TP_ASSERT_EQ_U64(4, tp_dtype_element_size(TP_DTYPE_INT32));
    TP_ASSERT_EQ_U64(8, tp_dtype_element_size(TP_DTYPE_UINT64));
    TP_ASSERT_EQ_U64(8, tp_dtype_element_size(TP_DTYPE_INT64));
    TP_ASSERT_EQ_U64(4, tp_dtype_element_size(TP_DTYPE_FLOAT32));
    TP_ASSERT_EQ_U64(8, tp_dtype_element_size(TP_DTYPE_FLOAT64));
    TP_ASSERT_EQ_U64(1, tp_dtype_element_size(TP_DTYPE_BOOLEAN));
    TP_ASSERT_EQ_U64(1, tp_dtype_element_size(TP_DTYPE_BYTES));
    TP_ASSERT_EQ_U64(0, tp_dtype_element_size(TP_DTYPE_BIT));
    TP_ASSERT_EQ_U64(0, tp_dtype_element_size(TP_DTYPE_UNKNOWN));
    TP_ASSERT_EQ_U64(0, tp_dtype_element_size(12));
    TP_ASSERT(tp_dtype_is_valid(14) && !tp_dtype_is_valid(12) && !tp_dtype_is_valid(15));
    TP_ASSERT_STREQ("FLOAT32", tp_dtype_name(9));
    TP_ASSERT_STREQ("INVALID", tp_dtype_name(12));
    TP_ASSERT_STREQ("COLUMN", tp_major_order_name(2));
    TP_ASSERT_STREQ("ROWS", tp_progress_unit_name(1));
    TP_ASSERT_STREQ("TP_DROP_LATE", tp_drop_reason_name(TP_DROP_LATE));
    TP_ASSERT_STREQ("UNKNOWN", tp_drop_reason_name(TP_DROP_REASON_COUNT));
    for (int i = 0; i < TP_DROP_REASON_COUNT; i++)
    {
        TP_ASSERT(0 == strncmp(tp_drop_reason_name(i), "TP_DROP_", 8));
    }
}

int main(int argc, char **argv)
{
    g_vectors_dir = argc > 1 ? argv[1] : TP_TEST_VECTORS_DIR;
    TP_RUN(test_shm_tensor_golden_encode_decode);
    TP_RUN(test_shm_tensor_encode_zero_fills_unused_dims);
    TP_RUN(test_shm_tensor_decode_embedded_header_checks);
    TP_RUN(test_shm_tensor_ndims_dtype_order_unit);
    TP_RUN(test_shm_tensor_dims_and_strides_sign);
    TP_RUN(test_shm_tensor_empty_with_overflowing_strides);
    TP_RUN(test_shm_tensor_strides_layout);
    TP_RUN(test_shm_tensor_bit_dtype);
    TP_RUN(test_shm_tensor_progress_stride);
    TP_RUN(test_shm_tensor_extent_fits_values_len);
    TP_RUN(test_shm_tensor_registry);
    return tp_test_finish();
}

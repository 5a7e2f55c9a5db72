/*
 * Fuzz target: what a consumer reads from shared memory it does not trust.
 *
 * Input layout (like the start of a header ring file):
 *   [0, 64)    ShmRegionSuperblock
 *   [64, 320)  one 256-byte slot: SlotHeader + embedded TensorHeader
 *   [320, 328) the sequence number the reader expects (little endian)
 *   [328]      selects which expected parameter differs from the superblock
 * Shorter inputs are fine: each decoder gets exactly the bytes that exist.
 *
 * Exercised: tp_shm_superblock_decode/_encode/_validate, the region parameter
 * checks, tp_shm_slot_header_decode/_encode, tp_tensor_header_decode/_check/
 * _validate/_effective_stride, the seqlock frame read (tp_shm_frame_begin/_end/
 * _read_copy) on a private header ring and pool whose slot is overwritten with
 * the input, and tp_shm_region_map_inspect/tp_shm_superblock_read_file on a
 * private file holding the input. Regions and files live in a directory made
 * once per process under $TMPDIR and removed at exit.
 */
#include "tp_fuzz.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "tensor_pool/tp_shm.h"
#include "tensor_pool/tp_tensor.h"

#define RING_NSLOTS 4u
#define POOL_STRIDE 256u
#define POOL_ID 1u

static char dir_path[PATH_MAX];
static char ring_path[PATH_MAX];
static char pool_path[PATH_MAX];
static char file_path[PATH_MAX];
static tp_shm_region_t *ring;
static tp_shm_region_t *pool;

static void cleanup(void)
{
    tp_shm_region_close(ring);
    tp_shm_region_close(pool);
    unlink(ring_path);
    unlink(pool_path);
    unlink(file_path);
    rmdir(dir_path);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    if (NULL == tmp || '/' != tmp[0])
    {
        tmp = "/tmp";
    }
    snprintf(dir_path, sizeof(dir_path), "%s/tp-fuzz-sb-XXXXXX", tmp);
    if (NULL == mkdtemp(dir_path))
    {
        abort();
    }
    snprintf(ring_path, sizeof(ring_path), "%s/header.ring", dir_path);
    snprintf(pool_path, sizeof(pool_path), "%s/1.pool", dir_path);
    snprintf(file_path, sizeof(file_path), "%s/input.ring", dir_path);
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, 7, 42, 0, RING_NSLOTS, 0 };
    tp_shm_region_params_t pp = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, 7, 42, POOL_ID, RING_NSLOTS,
        POOL_STRIDE };
    if (tp_shm_region_create(&ring, ring_path, &rp, NULL) < 0 || tp_shm_region_create(&pool, pool_path, &pp, NULL) < 0)
    {
        fprintf(stderr, "fuzz_superblock: %s\n", tp_errmsg());
        abort();
    }
    uint8_t *payload = (uint8_t *)(uintptr_t)tp_shm_region_base(pool);
    for (size_t i = TP_SHM_SUPERBLOCK_SIZE; i < tp_shm_region_length(pool); i++)
    {
        payload[i] = (uint8_t)(i * 31u);
    }
    atexit(cleanup);
}

static bool sb_equal(const tp_shm_superblock_t *a, const tp_shm_superblock_t *b)
{
    return a->magic == b->magic && a->layout_version == b->layout_version && a->epoch == b->epoch &&
        a->stream_id == b->stream_id && a->region_type == b->region_type && a->pool_id == b->pool_id &&
        a->nslots == b->nslots && a->slot_bytes == b->slot_bytes && a->stride_bytes == b->stride_bytes &&
        a->pid == b->pid && a->start_timestamp_ns == b->start_timestamp_ns &&
        a->activity_timestamp_ns == b->activity_timestamp_ns;
}

static void fuzz_superblock(const uint8_t *data, size_t size, uint8_t selector)
{
    tp_shm_superblock_t sb;
    if (tp_shm_superblock_decode(data, size, &sb) < 0)
    {
        TP_FUZZ_CHECK(size < TP_SHM_SUPERBLOCK_SIZE);
        return;
    }
    uint8_t enc[TP_SHM_SUPERBLOCK_SIZE];
    tp_shm_superblock_t again;
    TP_FUZZ_CHECK(0 == tp_shm_superblock_encode(enc, sizeof(enc), &sb));
    TP_FUZZ_CHECK(0 == tp_shm_superblock_decode(enc, sizeof(enc), &again));
    TP_FUZZ_CHECK(sb_equal(&sb, &again));

    tp_shm_region_params_t p = { (tp_shm_region_type_t)sb.region_type, sb.layout_version, sb.epoch, sb.stream_id,
        sb.pool_id, sb.nslots, sb.stride_bytes };
    switch (selector % 8u)
    {
        case 1: p.epoch++; break;
        case 2: p.stream_id ^= 1u; break;
        case 3: p.nslots = RING_NSLOTS; break;
        case 4: p.stride_bytes = POOL_STRIDE; break;
        case 5: p.region_type = TP_SHM_REGION_HEADER_RING; p.pool_id = 0; break;
        case 6: p.region_type = TP_SHM_REGION_PAYLOAD_POOL; break;
        default: break;
    }
    if (0 == tp_shm_superblock_validate(&sb, &p))
    {
        TP_FUZZ_CHECK(TP_SHM_MAGIC == sb.magic && p.layout_version == sb.layout_version);
        TP_FUZZ_CHECK(p.epoch == sb.epoch && p.stream_id == sb.stream_id && p.nslots == sb.nslots);
        TP_FUZZ_CHECK((int)p.region_type == sb.region_type);
        if (TP_SHM_REGION_HEADER_RING == p.region_type)
        {
            TP_FUZZ_CHECK(0 == sb.pool_id && TP_SHM_HEADER_SLOT_BYTES == sb.slot_bytes);
        }
        else
        {
            TP_FUZZ_CHECK(p.pool_id == sb.pool_id && p.stride_bytes == sb.stride_bytes);
            TP_FUZZ_CHECK(tp_shm_pool_slot_bytes_ok(sb.slot_bytes, sb.stride_bytes));
        }
    }
    else
    {
        TP_FUZZ_CHECK(TP_ERR_VALIDATION == tp_errcode());
    }
    uint64_t region_size = 0;
    if (0 == tp_shm_region_params_validate(&p))
    {
        TP_FUZZ_CHECK(0 == tp_shm_region_size(&p, &region_size));
        TP_FUZZ_CHECK(p.nslots > 0 && 0 == (p.nslots & (p.nslots - 1)));
        TP_FUZZ_CHECK(region_size > TP_SHM_SUPERBLOCK_SIZE);
    }
    uint64_t capped = 0;
    if (0 == tp_shm_region_check_caps(&p, 0, &capped))
    {
        TP_FUZZ_CHECK(capped <= TP_SHM_DEFAULT_MAX_REGION_BYTES && p.nslots <= TP_SHM_MAX_NSLOTS);
    }
    (void)tp_shm_region_type_name(sb.region_type);
}

static void check_tensor(const tp_tensor_header_t *t, uint64_t values_len)
{
    uint64_t extent = 0;
    tp_drop_reason_t r = tp_tensor_header_check(t, values_len, &extent);
    TP_FUZZ_CHECK((int)r >= 0 && (int)r < (int)TP_DROP_REASON_COUNT);
    TP_FUZZ_CHECK(0 != strcmp("UNKNOWN", tp_drop_reason_name(r)));
    int v = tp_tensor_header_validate(t, values_len);
    TP_FUZZ_CHECK((TP_DROP_NONE == r) == (0 == v));
    if (TP_DROP_NONE == r)
    {
        TP_FUZZ_CHECK(extent <= values_len);
        TP_FUZZ_CHECK(t->ndims >= 1 && t->ndims <= TP_MAX_DIMS);
        for (unsigned d = 0; d < t->ndims; d++)
        {
            TP_FUZZ_CHECK(t->dims[d] >= 0);
            /* Bit-packed tensors have no byte stride below one byte: -1 there is by contract. */
            TP_FUZZ_CHECK(tp_tensor_header_effective_stride(t, d) >= 0 || TP_DTYPE_BIT == t->dtype);
        }
        (void)tp_dtype_name(t->dtype);
        (void)tp_major_order_name(t->major_order);
        (void)tp_progress_unit_name(t->progress_unit);
    }
    else
    {
        TP_FUZZ_CHECK(TP_ERR_VALIDATION == tp_errcode());
    }
    for (unsigned d = 0; d <= TP_MAX_DIMS; d++)
    {
        (void)tp_tensor_header_effective_stride(t, d);
    }
}

static void fuzz_slot(const uint8_t *slot, size_t len)
{
    tp_shm_slot_header_t h;
    tp_drop_reason_t r = tp_shm_slot_header_decode(slot, len, &h);
    TP_FUZZ_CHECK((int)r >= 0 && (int)r < (int)TP_DROP_REASON_COUNT);
    if (len < TP_SHM_HEADER_SLOT_BYTES)
    {
        TP_FUZZ_CHECK(TP_DROP_NONE != r);
    }
    if (len >= 64 + TP_TENSOR_HEADER_ENCODED_LENGTH)
    {
        /* The embedded TensorHeader on its own (exact length required). */
        tp_tensor_header_t t;
        (void)tp_tensor_header_decode(slot + 64, TP_TENSOR_HEADER_ENCODED_LENGTH, &t);
        TP_FUZZ_CHECK(TP_DROP_NONE != tp_tensor_header_decode(slot + 64, TP_TENSOR_HEADER_ENCODED_LENGTH - 1, &t));
    }
    if (TP_DROP_NONE != r)
    {
        return;
    }
    check_tensor(&h.tensor, h.values_len_bytes);
    uint8_t enc[TP_SHM_HEADER_SLOT_BYTES];
    if (h.tensor.ndims <= TP_MAX_DIMS)
    {
        tp_shm_slot_header_t again;
        TP_FUZZ_CHECK(0 == tp_shm_slot_header_encode(enc, sizeof(enc), &h));
        TP_FUZZ_CHECK(TP_DROP_NONE == tp_shm_slot_header_decode(enc, sizeof(enc), &again));
        TP_FUZZ_CHECK(again.seq_commit == h.seq_commit && again.values_len_bytes == h.values_len_bytes);
        TP_FUZZ_CHECK(again.payload_slot == h.payload_slot && again.pool_id == h.pool_id);
        TP_FUZZ_CHECK(again.tensor.ndims == h.tensor.ndims && again.tensor.dtype == h.tensor.dtype);
        for (unsigned d = 0; d < h.tensor.ndims; d++)
        {
            TP_FUZZ_CHECK(again.tensor.dims[d] == h.tensor.dims[d] && again.tensor.strides[d] == h.tensor.strides[d]);
        }
    }
}

static void fuzz_frame_read(const uint8_t *slot, size_t len, uint64_t seq)
{
    uint32_t index = tp_shm_header_index(seq, RING_NSLOTS);
    uint8_t *dst = (uint8_t *)(uintptr_t)tp_shm_region_base(ring) + tp_shm_slot_offset(index);
    memset(dst, 0, TP_SHM_HEADER_SLOT_BYTES);
    memcpy(dst, slot, len < TP_SHM_HEADER_SLOT_BYTES ? len : TP_SHM_HEADER_SLOT_BYTES);

    const tp_shm_region_t *pools[] = { pool };
    tp_shm_frame_view_t view;
    tp_drop_reason_t r = tp_shm_frame_begin(ring, pools, 1, seq, &view);
    TP_FUZZ_CHECK((int)r >= 0 && (int)r < (int)TP_DROP_REASON_COUNT);
    if (TP_DROP_NONE == r)
    {
        TP_FUZZ_CHECK(view.seq == seq && view.header_index == index);
        TP_FUZZ_CHECK(POOL_ID == view.header.pool_id && index == view.header.payload_slot);
        TP_FUZZ_CHECK(0 == view.header.payload_offset && view.header.values_len_bytes <= POOL_STRIDE);
        TP_FUZZ_CHECK(view.extent_bytes <= view.header.values_len_bytes);
        if (view.header.values_len_bytes > 0)
        {
            const uint8_t *base = tp_shm_region_base(pool);
            TP_FUZZ_CHECK(view.payload == base + tp_shm_payload_offset(index, POOL_STRIDE));
            TP_FUZZ_CHECK(tp_fuzz_within(view.payload, view.header.values_len_bytes, base, tp_shm_region_length(pool)));
        }
        TP_FUZZ_CHECK(TP_DROP_NONE == tp_shm_frame_end(&view));
        uint8_t copy[POOL_STRIDE];
        tp_shm_frame_view_t v2;
        TP_FUZZ_CHECK(TP_DROP_NONE == tp_shm_frame_read_copy(ring, pools, 1, seq, &v2, copy, sizeof(copy)));
        TP_FUZZ_CHECK(0 == view.header.values_len_bytes || 0 == memcmp(copy, view.payload, view.header.values_len_bytes));
        if (view.header.values_len_bytes > 0)
        {
            TP_FUZZ_CHECK(TP_DROP_BUFFER_TOO_SMALL ==
                tp_shm_frame_read_copy(ring, pools, 1, seq, &v2, copy, view.header.values_len_bytes - 1));
        }
    }
    /* Without the pool every frame with a payload pool must be dropped. */
    TP_FUZZ_CHECK(TP_DROP_NONE != tp_shm_frame_begin(ring, pools, 0, seq, &view) ||
        0 == view.header.values_len_bytes);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    int fd = open(file_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    TP_FUZZ_CHECK(fd >= 0);
    TP_FUZZ_CHECK(size == 0 || (ssize_t)size == write(fd, data, size));
    close(fd);
    tp_shm_superblock_t sb;
    uint64_t file_size = 0;
    if (0 == tp_shm_superblock_read_file(file_path, &sb, &file_size))
    {
        TP_FUZZ_CHECK(file_size == size && size >= TP_SHM_SUPERBLOCK_SIZE);
    }
    tp_shm_region_t *r = NULL;
    if (0 == tp_shm_region_map_inspect(&r, file_path))
    {
        const tp_shm_superblock_t *msb = tp_shm_region_superblock(r);
        TP_FUZZ_CHECK(TP_SHM_MAGIC == msb->magic);
        TP_FUZZ_CHECK(tp_shm_region_length(r) <= size);
        tp_shm_region_params_t p = { (tp_shm_region_type_t)msb->region_type, msb->layout_version, msb->epoch,
            msb->stream_id, msb->pool_id, msb->nslots, msb->stride_bytes };
        uint64_t need = 0;
        TP_FUZZ_CHECK(0 == tp_shm_region_size(&p, &need) && need <= tp_shm_region_length(r));
        tp_shm_region_close(r);
    }
    else
    {
        TP_FUZZ_CHECK_ERROR();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (NULL == ring)
    {
        setup();
    }
    uint64_t seq = 0;
    uint8_t selector = 0;
    if (size >= 328)
    {
        memcpy(&seq, data + 320, sizeof(seq));
    }
    if (size >= 329)
    {
        selector = data[328];
    }
    fuzz_superblock(data, size, selector);
    if (size > TP_SHM_SUPERBLOCK_SIZE)
    {
        size_t slot_len = size - TP_SHM_SUPERBLOCK_SIZE;
        if (slot_len > TP_SHM_HEADER_SLOT_BYTES)
        {
            slot_len = TP_SHM_HEADER_SLOT_BYTES;
        }
        /* Exactly sized copy so that ASan sees any read past the slot. */
        uint8_t *slot = malloc(slot_len);
        TP_FUZZ_CHECK(NULL != slot);
        memcpy(slot, data + TP_SHM_SUPERBLOCK_SIZE, slot_len);
        fuzz_slot(slot, slot_len);
        fuzz_frame_read(slot, slot_len, seq);
        free(slot);
    }
    if (selector & 0x80u)
    {
        fuzz_file(data, size);
    }
    return 0;
}

/* CRC32C: check value, RFC 3720 (iSCSI) test vectors, chunked extension, the table. */
#include "tp_test.h"

#include "common/tp_crc32c.h"
#include "tensor_pool/tp_producer.h"

static void test_check_value(void)
{
    TP_ASSERT_EQ_U64(0xE3069283u, tp_crc32c_compute("123456789", 9));
    TP_ASSERT_EQ_U64(0u, tp_crc32c_compute(NULL, 0));
    TP_ASSERT_EQ_U64(0u, tp_crc32c_compute("", 0));
}

/* RFC 3720 appendix B.4: the vectors iSCSI (and the meta blob checksums) rely on. */
static void test_rfc3720_vectors(void)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    TP_ASSERT_EQ_U64(0x8A9136AAu, tp_crc32c_compute(buf, sizeof(buf)));
    memset(buf, 0xFF, sizeof(buf));
    TP_ASSERT_EQ_U64(0x62A8AB43u, tp_crc32c_compute(buf, sizeof(buf)));
    for (int i = 0; i < 32; i++)
    {
        buf[i] = (uint8_t)i;
    }
    TP_ASSERT_EQ_U64(0x46DD794Eu, tp_crc32c_compute(buf, sizeof(buf)));
    for (int i = 0; i < 32; i++)
    {
        buf[i] = (uint8_t)(31 - i);
    }
    TP_ASSERT_EQ_U64(0x113FDB5Cu, tp_crc32c_compute(buf, sizeof(buf)));
}

static void test_extend_matches_whole(void)
{
    uint8_t data[1000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(data); i++)
    {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    uint32_t whole = tp_crc32c_compute(data, sizeof(data));
    for (size_t cut = 0; cut <= sizeof(data); cut += 37)
    {
        TP_ASSERT_EQ_U64(whole, tp_crc32c_extend(tp_crc32c_compute(data, cut), data + cut, sizeof(data) - cut));
    }
    TP_ASSERT_EQ_U64(whole, tp_crc32c_extend(0, data, sizeof(data)));
    /* The client's copy (to be replaced by this one) agrees. */
    TP_ASSERT_EQ_U64(whole, tp_crc32c(data, sizeof(data)));
}

static void test_table_against_bitwise(void)
{
    /* Every single byte value through the table equals the bit-at-a-time definition. */
    for (uint32_t v = 0; v < 256; v++)
    {
        uint8_t b = (uint8_t)v;
        uint32_t c = 0xFFFFFFFFu ^ b;
        for (int k = 0; k < 8; k++)
        {
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        TP_ASSERT_EQ_U64(c ^ 0xFFFFFFFFu, tp_crc32c_compute(&b, 1));
    }
}

int main(void)
{
    TP_RUN(test_check_value);
    TP_RUN(test_rfc3720_vectors);
    TP_RUN(test_extend_matches_whole);
    TP_RUN(test_table_against_bitwise);
    return tp_test_finish();
}

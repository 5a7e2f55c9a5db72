/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78, initial and final XOR
 * 0xFFFFFFFF), as used for meta blob checksums (wire spec §10.3.3) and bridge
 * chunk integrity. Table-driven with a table fixed at compile time: no lazy
 * initialisation, safe from any thread, no allocation.
 */
#ifndef TP_COMMON_TP_CRC32C_H
#define TP_COMMON_TP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/** CRC32C of `length` bytes at `data` (`data` may be NULL when `length` is 0). crc32c("123456789") = 0xE3069283. */
uint32_t tp_crc32c_compute(const void *data, size_t length);

/**
 * Continue a CRC32C over more bytes: tp_crc32c_extend(tp_crc32c_compute(a), b)
 * equals the CRC32C of a followed by b; tp_crc32c_extend(0, b) equals
 * tp_crc32c_compute(b). For checksums of data that arrives in chunks.
 */
uint32_t tp_crc32c_extend(uint32_t crc, const void *data, size_t length);

#endif

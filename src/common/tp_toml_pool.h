/*
 * One payload pool entry of a configuration file: `{ pool_id = N,
 * stride_bytes = N }` (the driver's `payload_pools`, the rate limiter's
 * mapping `pools`). Strict like tp_toml.h: another key, a missing key or a
 * wrong type is a `file:line: ...` error. Range rules (non-zero id, stride a
 * multiple of 64, unique ids) stay with the caller, whose limits differ.
 */
#ifndef TP_COMMON_TP_TOML_POOL_H
#define TP_COMMON_TP_TOML_POOL_H

#include <stdint.h>

#include "common/tp_toml.h"

/** Read pool entry `e` into *pool_id / *stride_bytes. Returns 0 or -1 (TP_ERR_CONFIG with the line). */
int tp_toml_get_pool_entry(tp_toml_t *doc, const tp_toml_value_t *e, uint16_t *pool_id,
    uint32_t *stride_bytes);

#endif

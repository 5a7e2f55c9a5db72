/*
 * One payload pool entry of a configuration file. See tp_toml_pool.h.
 */
#include "common/tp_toml_pool.h"

int tp_toml_get_pool_entry(tp_toml_t *doc, const tp_toml_value_t *e, uint16_t *pool_id, uint32_t *stride_bytes)
{
    static const char *const pool_keys[] = { "pool_id", "stride_bytes" };
    if (TP_TOML_TABLE != tp_toml_type(e))
    {
        return tp_toml_value_error(doc, e, "expected { pool_id = N, stride_bytes = N }");
    }
    if (tp_toml_check_keys(doc, e, pool_keys, sizeof(pool_keys) / sizeof(pool_keys[0]), NULL) < 0 ||
        tp_toml_require(doc, e, "pool_id") < 0 || tp_toml_require(doc, e, "stride_bytes") < 0 ||
        tp_toml_get_u16(doc, e, "pool_id", pool_id, 0) < 0 ||
        tp_toml_get_u32(doc, e, "stride_bytes", stride_bytes, 0) < 0)
    {
        return -1;
    }
    return 0;
}

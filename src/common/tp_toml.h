/*
 * Internal strict TOML reader for the driver and bridge configuration files.
 *
 * Dialect (see docs/CONFIG.md, "TOML dialect"): TOML v1.0 without dates and
 * times. Everything else the configs need is supported strictly: comments,
 * bare/quoted/dotted keys, [table] and [[array.of.tables]] headers, basic and
 * literal strings (single- and multi-line), integers (decimal with sign and
 * `_`, 0x/0o/0b; int64 range plus non-negative values up to UINT64_MAX),
 * floats (decimal, exponent, inf, nan), booleans, arrays and inline tables.
 *
 * Every syntax or semantic error fails the parse with TP_ERR_CONFIG and a
 * message "name:line:col: what is wrong". Input limits: TP_TOML_MAX_BYTES
 * bytes, TP_TOML_MAX_DEPTH levels of array/inline-table nesting and
 * TP_TOML_MAX_KEY_PARTS components per dotted key or header. The input must
 * be valid UTF-8 without NUL bytes; a leading UTF-8 BOM is skipped.
 *
 * All values belong to the document and stay valid until tp_toml_free().
 * Each value remembers the line it was defined on (tp_toml_value_line()) and
 * its position in the tree (tp_toml_value_path()), so config loaders can
 * report "driver.toml:12: driver.control_stream_id: ...".
 *
 * Environment overrides: off by default. After tp_toml_set_env(doc, fn, clientd)
 * the typed getters (tp_toml_get_*) first ask `fn` for the override variable of
 * the key's full path (tp_toml_env_override_name(): uppercase, '.' and '-' ->
 * '_', e.g. driver.control_stream_id -> DRIVER_CONTROL_STREAM_ID); when `fn`
 * returns a string it is parsed as the requested type and wins over the file.
 * tp_toml_env_getenv is a ready-made `fn` that reads the process environment.
 * Keys below an array (e.g. mappings[0].dest_stream_id) have no override.
 */
#ifndef TP_COMMON_TP_TOML_H
#define TP_COMMON_TP_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor_pool/tp_common.h"

/** Largest accepted document, in bytes. */
#define TP_TOML_MAX_BYTES (1024u * 1024u)
/** Deepest accepted nesting of arrays and inline tables. */
#define TP_TOML_MAX_DEPTH 32
/** Most components accepted in one dotted key or table header. */
#define TP_TOML_MAX_KEY_PARTS 32

/** Value types. */
typedef enum tp_toml_type_enum
{
    TP_TOML_TABLE = 0,
    TP_TOML_ARRAY = 1,
    TP_TOML_STRING = 2,
    TP_TOML_INTEGER = 3,
    TP_TOML_FLOAT = 4,
    TP_TOML_BOOL = 5
} tp_toml_type_t;

/** A parsed document (owns every value). */
typedef struct tp_toml_stct tp_toml_t;

/** A value inside a document. */
typedef struct tp_toml_value_stct tp_toml_value_t;

/**
 * Environment lookup hook: return the value of variable `name`, or NULL when
 * it is not set. The returned string is copied before the next call.
 */
typedef const char *(*tp_toml_env_fn_t)(void *clientd, const char *name);

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Parse `len` bytes of TOML text. `name` (e.g. the file name) prefixes every
 * error message and is kept by the document; NULL means "<string>".
 * On success stores a new document in *out and returns 0; on failure returns
 * -1 with TP_ERR_CONFIG ("name:line:col: message"), TP_ERR_NO_MEMORY or
 * TP_ERR_INVALID_ARGUMENT, and leaves *out untouched.
 */
int tp_toml_parse_string(const char *text, size_t len, const char *name, tp_toml_t **out);

/**
 * Read and parse the file at `path` (the path is the document name).
 * Fails with the errno-derived code when the file cannot be read and with
 * TP_ERR_CONFIG when it is larger than TP_TOML_MAX_BYTES or invalid.
 */
int tp_toml_parse_file(const char *path, tp_toml_t **out);

/** Free a document and every value in it. NULL is a no-op. */
void tp_toml_free(tp_toml_t *doc);

/** Name of the document (file name or the name given to tp_toml_parse_string()). */
const char *tp_toml_name(const tp_toml_t *doc);

/** The root table of a document. */
const tp_toml_value_t *tp_toml_root(const tp_toml_t *doc);

/* ------------------------------------------------------------------------ */
/* Tree access                                                              */
/* ------------------------------------------------------------------------ */

/** Type of a value. */
tp_toml_type_t tp_toml_type(const tp_toml_value_t *v);

/** Human-readable type name ("table", "array", "string", "integer", "float", "boolean"). */
const char *tp_toml_type_name(tp_toml_type_t type);

/** Line (1-based) on which the value was defined; for tables, the header or first key. */
uint32_t tp_toml_value_line(const tp_toml_value_t *v);

/**
 * Write the full path of `v` into buf, e.g. "profiles.camera.payload_pools[1]"
 * (keys that are not bare are quoted; the root is ""). Always NUL-terminates
 * when len > 0 (truncating). Returns the length of the untruncated path.
 */
size_t tp_toml_value_path(const tp_toml_value_t *v, char *buf, size_t len);

/** Number of keys of a table (0 for a non-table). */
size_t tp_toml_table_size(const tp_toml_value_t *table);

/** Key at `index` in definition order, or NULL when out of range / not a table. */
const char *tp_toml_table_key(const tp_toml_value_t *table, size_t index);

/** Value at `index` in definition order, or NULL when out of range / not a table. */
const tp_toml_value_t *tp_toml_table_value(const tp_toml_value_t *table, size_t index);

/** Value of the single key `key` (not split on '.'), or NULL when absent / not a table. */
const tp_toml_value_t *tp_toml_table_get(const tp_toml_value_t *table, const char *key);

/**
 * Value at a dotted path below `table` ("driver.control_stream_id"); each
 * component is a key (keys containing '.' need tp_toml_table_get()). NULL
 * when any component is absent or an intermediate value is not a table.
 */
const tp_toml_value_t *tp_toml_lookup(const tp_toml_value_t *table, const char *path);

/** Number of elements of an array (0 for a non-array). */
size_t tp_toml_array_size(const tp_toml_value_t *array);

/** Element `index` of an array, or NULL when out of range / not an array. */
const tp_toml_value_t *tp_toml_array_at(const tp_toml_value_t *array, size_t index);

/** NUL-terminated contents of a string value (NULL for other types). Never contains NUL. */
const char *tp_toml_string(const tp_toml_value_t *v);

/** Length in bytes of a string value (0 for other types). */
size_t tp_toml_string_len(const tp_toml_value_t *v);

/** Value of a boolean (false for other types). */
bool tp_toml_bool(const tp_toml_value_t *v);

/** Value of a float, or an integer converted to double (0.0 for other types). */
double tp_toml_double(const tp_toml_value_t *v);

/**
 * Integer as int64: returns 0 and stores it, or -1 (TP_ERR_CONFIG) when the
 * value is not an integer or is above INT64_MAX.
 */
int tp_toml_integer_i64(const tp_toml_value_t *v, int64_t *out);

/**
 * Integer as uint64: returns 0 and stores it, or -1 (TP_ERR_CONFIG) when the
 * value is not an integer or is negative.
 */
int tp_toml_integer_u64(const tp_toml_value_t *v, uint64_t *out);

/* ------------------------------------------------------------------------ */
/* Typed getters for config loading                                         */
/* ------------------------------------------------------------------------ */
/*
 * Common behaviour: `table` is a table of `doc` (NULL = the root; another
 * type fails) and `path` a dotted path below it. When an environment hook is set (tp_toml_set_env())
 * and it returns a value for the key's override variable, that value is parsed
 * and used. Otherwise a missing key stores `dflt` and returns 0. A value of
 * the wrong type or out of range fails with TP_ERR_CONFIG and a message such as
 * "driver.toml:12: driver.control_stream_id: expected an integer in
 * 0..4294967295, got -5"; *out is then unchanged.
 */

/** String getter; *out points into the document (or at `dflt`). */
int tp_toml_get_string(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, const char **out,
    const char *dflt);

/** Boolean getter (environment: "true"/"false"/"1"/"0"). */
int tp_toml_get_bool(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, bool *out, bool dflt);

/** Integer getter, range 0..65535. */
int tp_toml_get_u16(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, uint16_t *out,
    uint16_t dflt);

/** Integer getter, range 0..4294967295. */
int tp_toml_get_u32(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, uint32_t *out,
    uint32_t dflt);

/** Integer getter, range 0..18446744073709551615. */
int tp_toml_get_u64(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, uint64_t *out,
    uint64_t dflt);

/** Integer getter, full int64 range. */
int tp_toml_get_i64(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, int64_t *out,
    int64_t dflt);

/** Float getter; integers are accepted and converted. */
int tp_toml_get_double(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, double *out,
    double dflt);

/**
 * Table getter: *out = the table, or NULL when absent (no default, no
 * environment override). Fails when the key holds another type.
 */
int tp_toml_get_table(tp_toml_t *doc, const tp_toml_value_t *table, const char *path,
    const tp_toml_value_t **out);

/**
 * Array getter: *out = the array, or NULL when absent (no default, no
 * environment override). Fails when the key holds another type.
 */
int tp_toml_get_array(tp_toml_t *doc, const tp_toml_value_t *table, const char *path,
    const tp_toml_value_t **out);

/**
 * Required-key check: returns 0 when `path` exists below `table` (or has an
 * environment override), else -1 with TP_ERR_CONFIG
 * "name:line: full.path: required key is missing" (line of the table).
 * Use before the getter: `tp_toml_require(...) < 0 || tp_toml_get_u32(...) < 0`.
 */
int tp_toml_require(tp_toml_t *doc, const tp_toml_value_t *table, const char *path);

/**
 * Fail (TP_ERR_CONFIG) on the first key of `table` that is not in
 * `allowed[0..n)`: "name:line: unknown key 'driver.contrl_stream_id' (allowed: ...)".
 * `table_path` names the table in the message; NULL derives it from the tree.
 * Returns 0 when every key is allowed (or `table` is NULL).
 */
int tp_toml_check_keys(const tp_toml_t *doc, const tp_toml_value_t *table, const char *const *allowed, size_t n,
    const char *table_path);

/**
 * Report a config error about value `v` (a value of `doc`): sets TP_ERR_CONFIG
 * with "name:line: full.path: <formatted message>" and returns -1. For
 * loaders' own semantic checks (e.g. "must be a power of two").
 */
int tp_toml_value_error(const tp_toml_t *doc, const tp_toml_value_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------ */
/* Environment overrides                                                    */
/* ------------------------------------------------------------------------ */

/**
 * Override variable name of a key path: uppercase, '.' and '-' become '_'
 * ("driver.control_stream_id" -> "DRIVER_CONTROL_STREAM_ID"). Returns 0, or -1
 * (TP_ERR_INVALID_ARGUMENT) when the buffer is too small or the path contains
 * a character other than A-Z a-z 0-9 _ - . (such keys have no override).
 */
int tp_toml_env_override_name(const char *key_path, char *buf, size_t len);

/**
 * Install (fn != NULL) or remove (fn == NULL) the environment hook consulted
 * by the typed getters of `doc`.
 */
void tp_toml_set_env(tp_toml_t *doc, tp_toml_env_fn_t fn, void *clientd);

/** Environment hook reading the process environment (getenv); clientd unused. */
const char *tp_toml_env_getenv(void *clientd, const char *name);

/* ------------------------------------------------------------------------ */
/* Writing TOML (the --print-config of the config readers)                  */
/* ------------------------------------------------------------------------ */

/**
 * TOML text written into a caller's buffer, snprintf-style: used counts every
 * byte written or that would have been (NULL buf or len 0: only counting).
 */
typedef struct tp_toml_out_stct
{
    char *buf;
    size_t len;
    size_t used;
}
tp_toml_out_t;

/** Start writing into buf (len bytes, may be NULL/0); buf becomes "" when it has room. */
void tp_toml_out_init(tp_toml_out_t *o, char *buf, size_t len);

/** Append printf-formatted text (truncated at the buffer, counted in full). */
void tp_toml_outf(tp_toml_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Append a TOML basic string: quotes, backslashes and control characters escaped, so that it loads back. */
void tp_toml_out_string(tp_toml_out_t *o, const char *v);

/** Append `key = "value"` (value as tp_toml_out_string()) and a newline. */
void tp_toml_out_kv_string(tp_toml_out_t *o, const char *key, const char *v);

#endif

/*
 * Discovery configuration (internal): the `[discovery]` section (embedded in
 * the driver's TOML, or the standalone provider's file) and the standalone
 * file (`[discovery]` + `[drivers.<name>]`). Keys: docs/DISCOVERY.md.
 */
#ifndef TP_DISCOVERY_TP_DISCOVERY_CONFIG_H
#define TP_DISCOVERY_TP_DISCOVERY_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "common/tp_toml.h"
#include "discovery/tp_discovery_provider.h"

/**
 * Load `[discovery]` of `doc` over `c`. `embedded`: the driver's section
 * (keys `enabled`, `metadata_channel`, `metadata_stream_id` apply to the
 * driver's own source, index 0; streams need no `driver` key); otherwise
 * the standalone keys (`transport_backend`, `transport_dir`; every
 * `[discovery.streams.*]` names its driver). `enabled` may be NULL when not
 * embedded; `backend`/`dir` (16 / PATH_MAX bytes) may be NULL when embedded.
 * Returns 0 or -1 (TP_ERR_CONFIG "file:line: key: what").
 */
int tp_discovery_config_load_section(tp_toml_t *doc, tp_discovery_provider_config_t *c, bool embedded, bool *enabled,
    char *backend, char *dir);

/**
 * Load a standalone provider file: `[discovery]` and `[drivers.<name>]`
 * (instance_id, control_channel, control_stream_id, announce_channel,
 * announce_stream_id, metadata_channel, metadata_stream_id,
 * announce_period_ms). `backend` and `dir` receive the transport keys.
 * Validates the result. Returns 0 or -1.
 */
int tp_discovery_config_load_file(const char *path, tp_discovery_provider_config_t *c, char backend[16],
    char dir[PATH_MAX]);

#endif

/*
 * Embedded Discovery Provider of the SHM driver (Discovery spec §2.1, §4.2,
 * §6.4): `[discovery]` in the driver's TOML enables it. The driver feeds the
 * registry from its own authoritative state (the streams it announces, its
 * instance id and control endpoint), not from announces heard on the wire.
 * Requests arrive on the driver's control stream by default (`discovery.*`
 * defaults to the driver control endpoint, §4.2; the control handler passes
 * schema 910 messages here) or on a stream of their own.
 */
#ifndef TP_DRIVER_TP_DRIVER_DISCOVERY_H
#define TP_DRIVER_TP_DRIVER_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tp_toml.h"
#include "discovery/tp_discovery_provider.h"

typedef struct tp_driver_stct tp_driver_t;
typedef struct tp_driver_config_stct tp_driver_config_t;

/** Defaults of the [discovery] keys (disabled; endpoint "" = the control endpoint). */
void tp_driver_discovery_config_defaults(tp_driver_config_t *c);

/** Load `[discovery]` of a driver TOML document into `c`. Returns 0 or -1 (TP_ERR_CONFIG). */
int tp_driver_discovery_config_load(tp_toml_t *doc, tp_driver_config_t *c);

/** Append the [discovery] section to a printed configuration (snprintf-style into buf+used). */
size_t tp_driver_discovery_config_print(const tp_driver_config_t *c, char *buf, size_t len);

/** Create the provider when enabled (after the driver's transport and control stream). Returns 0 or -1. */
int tp_driver_discovery_init(tp_driver_t *d);

/** Close the provider. */
void tp_driver_discovery_close(tp_driver_t *d);

/** Duty cycle: sync from the driver's streams, poll, respond. Returns work count. */
int tp_driver_discovery_do_work(tp_driver_t *d, uint64_t now_ns);

/** A schema-910 message seen on the driver's control stream. */
void tp_driver_discovery_on_control(tp_driver_t *d, const uint8_t *buffer, size_t length, uint64_t now_ns);

#endif

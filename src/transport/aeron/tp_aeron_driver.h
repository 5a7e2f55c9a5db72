/*
 * Embedded Aeron C media driver: runs the driver of libaeron_driver inside the
 * calling process (its agents on their own thread, SHARED threading mode to
 * spare cores), so that one program or one test can run a whole Aeron
 * deployment by itself. Used by the aeron transport backend when
 * $TP_AERON_EMBEDDED_DRIVER=1 and by the tests and benchmarks.
 *
 * Only built when the Aeron C client is available (TP_HAVE_AERON); the driver
 * itself needs the driver library (TP_HAVE_AERON_DRIVER), otherwise
 * tp_aeron_media_driver_start() fails with TP_ERR_UNSUPPORTED.
 */
#ifndef TP_TRANSPORT_AERON_TP_AERON_DRIVER_H
#define TP_TRANSPORT_AERON_TP_AERON_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

/** Environment variable: "1" makes the aeron backend start an embedded media driver. */
#define TP_AERON_EMBEDDED_DRIVER_ENV "TP_AERON_EMBEDDED_DRIVER"

typedef struct tp_aeron_media_driver_stct tp_aeron_media_driver_t;

/** Whether this build can embed the media driver (libaeron_driver was found). */
bool tp_aeron_media_driver_supported(void);

/**
 * Start a media driver on `dir` (the Aeron directory, created by the driver
 * and deleted when it closes). `liveness_timeout_ns` (0 = Aeron's defaults)
 * sets the client and image liveness timeouts (at least 1 s). Aeron's other
 * settings keep their defaults and AERON_* environment variables (e.g.
 * AERON_IPC_TERM_BUFFER_LENGTH); term files are sparse. Fails with TP_ERR_STATE when
 * an active driver already uses `dir` (then share it instead).
 *
 * Across processes, the check for a live driver (cnc.dat present, version
 * set and compatible, heartbeat younger than 1 s) and the start are done
 * under an exclusive flock on "<dir>.tp-driver.lock" (next to `dir`), and the
 * driver's cnc.dat is complete before the lock is released: processes
 * starting at once on one directory never see each other's half-initialised
 * cnc.dat. tp_aeron_media_driver_close() stops the driver under the same lock
 * and removes the lock file. Waiting for the lock is bounded (10 s,
 * TP_ERR_TIMEOUT). Returns 0 (`*out` set) or -1.
 */
int tp_aeron_media_driver_start(tp_aeron_media_driver_t **out, const char *dir, uint64_t liveness_timeout_ns);

/** Whether a live media driver (fresh heartbeat in its cnc.dat) uses `dir`. */
bool tp_aeron_media_driver_is_active(const char *dir, uint64_t timeout_ms);

/** The Aeron directory of a started driver. */
const char *tp_aeron_media_driver_dir(const tp_aeron_media_driver_t *driver);

/**
 * Process-wide shared use of embedded drivers, for transports configured with
 * $TP_AERON_EMBEDDED_DRIVER=1: when a driver started by this process already
 * serves `dir`, take a reference to it; otherwise, when an active driver of
 * another process serves `dir`, use that one (`*out` = NULL: attached, not
 * owned); otherwise start one (atomically with the check, see
 * tp_aeron_media_driver_start). Thread-safe. The driver lives as long as the
 * owning process's references: when they are released (or the process
 * exits: an atexit handler stops drivers still running, so their directories
 * are removed), the driver stops even if other processes still use it; their
 * transports then report TP_ERR_CLOSED. Returns 0 or -1.
 */
int tp_aeron_media_driver_acquire(tp_aeron_media_driver_t **out, const char *dir, uint64_t liveness_timeout_ns);

/** Drop a reference taken by tp_aeron_media_driver_acquire(); the last one closes the driver. NULL is a no-op. */
int tp_aeron_media_driver_release(tp_aeron_media_driver_t *driver);

/**
 * Stop the driver's agents, close it and delete its directory. Close every
 * client of the driver first. Returns 0 or -1. NULL is a no-op.
 */
int tp_aeron_media_driver_close(tp_aeron_media_driver_t *driver);

#endif

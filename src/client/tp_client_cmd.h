/*
 * Conductor commands: a request from any thread to the client conductor,
 * carried through the client's MPSC command queue (threaded mode) or run
 * inline (invoker mode). A command says what to do through its ops table;
 * the conductor runs `execute` without knowing what the command is for.
 */
#ifndef TP_CLIENT_TP_CLIENT_CMD_H
#define TP_CLIENT_TP_CLIENT_CMD_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tensor_pool/tp_client.h"

/* Command state: the requester waits on it; ownership is handed over with it. */
enum
{
    TP_CMD_PENDING = 0,
    TP_CMD_DONE = 1,
    TP_CMD_FAILED = 2,
    TP_CMD_ABANDONED = 3
};

/*
 * What a command adds, for admission counting (adds of one kind still
 * pending count against that kind's limit). TP_CMD_KIND_OTHER: not an add.
 */
typedef enum tp_cmd_kind_enum
{
    TP_CMD_KIND_OTHER = 0,
    TP_CMD_KIND_ADD_PRODUCER = 1,
    TP_CMD_KIND_ADD_CONSUMER = 2
} tp_cmd_kind_t;

typedef struct tp_client_cmd_stct tp_client_cmd_t;

typedef struct tp_client_cmd_ops_stct
{
    tp_cmd_kind_t kind;
    /*
     * Conductor (or the requester's thread in invoker mode): run the command.
     * It either completes it (tp_client_cmd_complete) or, for an add, keeps
     * it on the client's pending adds, polled with `poll`.
     */
    void (*execute)(tp_client_t *client, tp_client_cmd_t *cmd);
    /* Adds only, conductor: continue the add: 1 ready, 0 pending, -1 failed. */
    int (*poll)(tp_client_cmd_t *cmd);
    /* Adds only, conductor: register the ready target with the client (false: no room). */
    bool (*attach)(tp_client_t *client, tp_client_cmd_t *cmd);
    /* Adds only, conductor: undo `attach` (the requester abandoned the add meanwhile). */
    void (*detach)(tp_client_t *client, tp_client_cmd_t *cmd);
    /* Release what the command created (its target) when the requester is gone; NULL: nothing to release. */
    void (*on_abandoned)(tp_client_cmd_t *cmd);
    /* Free an unconsumed payload; NULL: the command has none. */
    void (*free_payload)(void *payload);
} tp_client_cmd_ops_t;

/** A request to the conductor. The requester waits on `state`. */
struct tp_client_cmd_stct
{
    const tp_client_cmd_ops_t *ops;
    _Atomic int state;
    int errcode;
    char errmsg[512];
    void *target;     /* producer / consumer */
    void *payload;    /* command specific, owned by the command until `execute` takes it */
};

/** Record the current tp_errcode()/tp_errmsg() as the command's error. */
void tp_client_cmd_set_error(tp_client_cmd_t *cmd);

/** Free a command and its unconsumed payload. */
void tp_client_cmd_free(tp_client_cmd_t *cmd);

/**
 * Complete a command from the conductor. When the requester abandoned it,
 * the command is ours: its ops' on_abandoned runs, then it is freed.
 */
void tp_client_cmd_complete(tp_client_cmd_t *cmd, bool ok);

/** Run a command on the conductor (ops->execute). */
void tp_client_cmd_run(tp_client_t *client, tp_client_cmd_t *cmd);

/**
 * Submit a command and wait for it (threaded, bounded by the client
 * timeout), or run it inline (invoker). Takes ownership of `cmd`.
 * Returns 0 or -1 with the command's error.
 */
int tp_client_submit_and_wait(tp_client_t *client, tp_client_cmd_t *cmd);

/** Report an asynchronous error (tp_errmsg()) through the context's handler, or log it. */
void tp_client_report_error(tp_client_t *client, const char *what);

#endif

/*
 * Fault injection for client tests: a tp_transport_faults_t whose hooks read
 * the state below, installed in a context with
 * tp_context_set_transport_faults() before the client is created (the
 * transport of that client then consults it). The state may be changed at
 * any time, from any thread. The tpc_faults_t must outlive the client.
 */
#ifndef TP_TESTS_CLIENT_FAULTS_H
#define TP_TESTS_CLIENT_FAULTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "client/tp_client_internal.h"
#include "transport/tp_transport.h"

#define TPC_FAULTS_MAX_ADDS 512

typedef struct tpc_faults_stct
{
    tp_transport_faults_t table;
    /* every add first polled from now on answers "pending" to its first N polls (simulated driver latency) */
    _Atomic uint32_t add_pending_polls;
    /* while set, every add (started or not) answers "pending" */
    atomic_bool hold_adds;
    /* the next N claim commits abort the claim and fail with TP_ERR_IO */
    _Atomic uint32_t fail_claim_commits;
    /* the next N claims fail with TP_PUBLICATION_ERROR */
    _Atomic uint32_t fail_try_claims;
    /* polls still to answer "pending", per add (conductor thread only) */
    struct
    {
        const void *add;
        uint32_t left;
    } adds[TPC_FAULTS_MAX_ADDS];
    size_t add_count;
} tpc_faults_t;

static inline bool tpc_faults_add_poll_pending(void *clientd, const void *add)
{
    tpc_faults_t *f = clientd;
    if (atomic_load(&f->hold_adds))
    {
        return true;
    }
    for (size_t i = 0; i < f->add_count; i++)
    {
        if (f->adds[i].add == add)
        {
            if (f->adds[i].left > 0)
            {
                f->adds[i].left--;
                return true;
            }
            f->adds[i] = f->adds[--f->add_count]; /* this poll reaches the backend */
            return false;
        }
    }
    uint32_t n = atomic_load(&f->add_pending_polls);
    if (0 == n || f->add_count == TPC_FAULTS_MAX_ADDS)
    {
        return false;
    }
    f->adds[f->add_count].add = add;
    f->adds[f->add_count].left = n - 1;
    f->add_count++;
    return true;
}

/* Take one from a "fail the next N" counter: true when it was not 0. */
static inline bool tpc_faults_take(_Atomic uint32_t *counter)
{
    uint32_t failing = atomic_load(counter);
    while (failing > 0)
    {
        if (atomic_compare_exchange_weak(counter, &failing, failing - 1))
        {
            return true;
        }
    }
    return false;
}

static inline bool tpc_faults_fail_claim_commit(void *clientd)
{
    return tpc_faults_take(&((tpc_faults_t *)clientd)->fail_claim_commits);
}

static inline bool tpc_faults_fail_try_claim(void *clientd)
{
    return tpc_faults_take(&((tpc_faults_t *)clientd)->fail_try_claims);
}

/* Reset `f` (nothing injected) and install it in `ctx`. Returns 0 or -1. */
static inline int tpc_faults_install(tpc_faults_t *f, tp_context_t *ctx)
{
    memset(f, 0, sizeof(*f));
    f->table.add_poll_pending = tpc_faults_add_poll_pending;
    f->table.fail_claim_commit = tpc_faults_fail_claim_commit;
    f->table.fail_try_claim = tpc_faults_fail_try_claim;
    f->table.clientd = f;
    return tp_context_set_transport_faults(ctx, &f->table);
}

#endif

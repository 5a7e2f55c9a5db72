/*
 * Fault injection through the transport context (tp_transport_faults_t): a
 * publication decorator whose claims and claim commits ask the
 * fail_try_claim / fail_claim_commit hooks first. Installed only on
 * publications of a transport whose context sets one of them; every other
 * operation is forwarded to the backend as is.
 */
#include <stdlib.h>

#include "common/tp_error.h"
#include "transport/tp_transport_internal.h"

typedef struct tp_faulty_publication_stct
{
    const tp_publication_ops_t *ops; /* the backend's */
    void *impl;                      /* the backend's */
    const tp_transport_faults_t *faults;
} tp_faulty_publication_t;

static const tp_publication_ops_t tp_faulty_publication_ops;

static int64_t faulty_offerv(void *impl, const struct iovec *iov, size_t iovcnt, size_t length,
    tp_reserved_value_supplier_t supplier, void *clientd)
{
    tp_faulty_publication_t *f = impl;
    return f->ops->offerv(f->impl, iov, iovcnt, length, supplier, clientd);
}

static int64_t faulty_try_claim(void *impl, size_t length, tp_buffer_claim_t *claim)
{
    tp_faulty_publication_t *f = impl;
    if (NULL != f->faults->fail_try_claim && f->faults->fail_try_claim(f->faults->clientd))
    {
        tp_err_set(TP_ERR_IO, "tp_publication_try_claim: failure injected (tp_transport_faults_t)");
        return TP_PUBLICATION_ERROR;
    }
    int64_t rc = f->ops->try_claim(f->impl, length, claim);
    if (rc > 0)
    {
        /* the claim comes back to the decorator; commit/abort restore the backend's fields first */
        claim->ops = &tp_faulty_publication_ops;
        claim->impl = f;
    }
    return rc;
}

/* Give the claim back its backend fields; returns the backend's ops. */
static const tp_publication_ops_t *faulty_unwrap_claim(tp_buffer_claim_t *claim, const tp_faulty_publication_t **f)
{
    *f = claim->impl;
    claim->impl = (*f)->impl;
    claim->ops = (*f)->ops;
    return (*f)->ops;
}

static int faulty_commit(tp_buffer_claim_t *claim)
{
    const tp_faulty_publication_t *f;
    const tp_publication_ops_t *ops = faulty_unwrap_claim(claim, &f);
    if (NULL != f->faults->fail_claim_commit && f->faults->fail_claim_commit(f->faults->clientd))
    {
        ops->abort(claim); /* keep the log consistent: the claimed space becomes padding */
        return tp_err_set(TP_ERR_IO, "tp_buffer_claim_commit: failure injected (tp_transport_faults_t)");
    }
    return ops->commit(claim);
}

static int faulty_abort(tp_buffer_claim_t *claim)
{
    const tp_faulty_publication_t *f;
    return faulty_unwrap_claim(claim, &f)->abort(claim);
}

static bool faulty_is_connected(void *impl)
{
    tp_faulty_publication_t *f = impl;
    return f->ops->is_connected(f->impl);
}

static int64_t faulty_channel_status(void *impl)
{
    tp_faulty_publication_t *f = impl;
    return f->ops->channel_status(f->impl);
}

static int64_t faulty_position(void *impl)
{
    tp_faulty_publication_t *f = impl;
    return f->ops->position(f->impl);
}

static int faulty_do_work(void *impl, uint64_t now_ns)
{
    tp_faulty_publication_t *f = impl;
    return f->ops->do_work(f->impl, now_ns);
}

static int faulty_close(void *impl)
{
    tp_faulty_publication_t *f = impl;
    int rc = f->ops->close(f->impl);
    free(f);
    return rc;
}

static const tp_publication_ops_t tp_faulty_publication_ops = {
    .offerv = faulty_offerv,
    .try_claim = faulty_try_claim,
    .commit = faulty_commit,
    .abort = faulty_abort,
    .is_connected = faulty_is_connected,
    .channel_status = faulty_channel_status,
    .position = faulty_position,
    .do_work = faulty_do_work,
    .close = faulty_close,
};

int tp_transport_faults_wrap_publication(tp_publication_t *pub, const tp_transport_faults_t *faults)
{
    tp_faulty_publication_t *f = calloc(1, sizeof(*f));
    if (NULL == f)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "fault injection: out of memory");
    }
    f->ops = pub->ops;
    f->impl = pub->impl;
    f->faults = faults;
    pub->ops = &tp_faulty_publication_ops;
    pub->impl = f;
    return 0;
}

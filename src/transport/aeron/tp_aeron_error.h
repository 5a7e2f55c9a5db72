/*
 * Translation of Aeron errors (aeron_errcode() / aeron_errmsg()) into the
 * tensorpool error state (tp_errcode() / tp_errmsg()).
 *
 * Aeron reports three kinds of codes through aeron_errcode():
 *   - errno values (> 0) for failed system calls;
 *   - negated driver error codes (-1 .. -14, AERON_ERROR_CODE_* of the control
 *     protocol) for commands the media driver rejected;
 *   - client codes (<= -1000, AERON_CLIENT_ERROR_*) such as driver timeouts.
 * Only built when the Aeron C client is available (TP_HAVE_AERON).
 */
#ifndef TP_TRANSPORT_AERON_TP_AERON_ERROR_H
#define TP_TRANSPORT_AERON_TP_AERON_ERROR_H

/**
 * Map an Aeron error code (as returned by aeron_errcode()) to a tp error code
 * (TP_ERR_*). Unknown codes map to TP_ERR_IO.
 */
int tp_aeron_map_errcode(int aeron_code);

/**
 * Set the tp error state from the calling thread's Aeron error: the code is
 * mapped with tp_aeron_map_errcode() and the message is
 * "<context>: <aeron_errmsg()> (aeron errcode N)", with Aeron's multi-line
 * stack of messages folded onto one line. A driver "generic error" over
 * EINVAL (a rejected channel parameter such as mtu) is TP_ERR_MALFORMED.
 * Always returns -1.
 */
int tp_aeron_err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

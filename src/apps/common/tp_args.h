/*
 * Strict command-line value parsing shared by `tp` and the example programs.
 *
 * Every parser accepts the whole text or nothing: no empty string, no leading
 * or trailing blanks or garbage, no sign on unsigned values, no overflow, no
 * NaN or infinity, and the value must lie in [min, max]. On failure it prints
 * one line to stderr naming the program, the option, the accepted range and
 * the text it got, e.g.
 *   "tp listen: --duration must be a number of seconds in [0, 1e+09], got 'abc'"
 * and returns -1 (the caller exits with its usage-error code). 0 on success.
 */
#ifndef TP_APPS_TP_ARGS_H
#define TP_APPS_TP_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/** Unsigned decimal integer in [min, max]. `what` describes it ("a frame count"; NULL: "an integer"). */
int tp_args_u64(const char *prog, const char *option, const char *text, uint64_t min, uint64_t max, const char *what,
    uint64_t *out);

/** tp_args_u64 for a uint32_t. */
int tp_args_u32(const char *prog, const char *option, const char *text, uint32_t min, uint32_t max, const char *what,
    uint32_t *out);

/** Signed decimal integer in [min, max]. */
int tp_args_i64(const char *prog, const char *option, const char *text, int64_t min, int64_t max, const char *what,
    int64_t *out);

/** Finite decimal number (strtod syntax, no NaN/inf/hex) in [min, max]. */
int tp_args_double(const char *prog, const char *option, const char *text, double min, double max, const char *what,
    double *out);

/**
 * A directory or file path: not empty and at most `max_len` bytes ("--dir ''"
 * would otherwise mean the current directory or `/` to some callers).
 */
int tp_args_path(const char *prog, const char *option, const char *text, unsigned max_len);

/**
 * The value of option argv[*i] (advancing *i), or NULL after printing
 * "<prog>: <option> needs a value" when it is the last argument.
 */
const char *tp_args_value(const char *prog, int argc, char **argv, int *i);

#endif

/* Strict command-line value parsing (see tp_args.h). */
#include "tp_args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool tp_args_all_digits(const char *s)
{
    if ('\0' == *s)
    {
        return false;
    }
    for (; '\0' != *s; s++)
    {
        if (*s < '0' || *s > '9')
        {
            return false;
        }
    }
    return true;
}

int tp_args_u64(const char *prog, const char *option, const char *text, uint64_t min, uint64_t max, const char *what,
    uint64_t *out)
{
    const char *w = NULL == what ? "an integer" : what;
    if (NULL == text || !tp_args_all_digits(text))
    {
        fprintf(stderr, "%s: %s must be %s in [%llu, %llu], got '%s'\n", prog, option, w, (unsigned long long)min,
            (unsigned long long)max, NULL == text ? "" : text);
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(text, NULL, 10);
    if (ERANGE == errno || v < min || v > max)
    {
        fprintf(stderr, "%s: %s must be %s in [%llu, %llu], got '%s' (out of range)\n", prog, option, w,
            (unsigned long long)min, (unsigned long long)max, text);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int tp_args_u32(const char *prog, const char *option, const char *text, uint32_t min, uint32_t max, const char *what,
    uint32_t *out)
{
    uint64_t v;
    if (tp_args_u64(prog, option, text, min, max, what, &v) < 0)
    {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int tp_args_i64(const char *prog, const char *option, const char *text, int64_t min, int64_t max, const char *what,
    int64_t *out)
{
    const char *w = NULL == what ? "an integer" : what;
    const char *digits = NULL == text ? "" : ('-' == text[0] ? text + 1 : text);
    if (NULL == text || !tp_args_all_digits(digits))
    {
        fprintf(stderr, "%s: %s must be %s in [%lld, %lld], got '%s'\n", prog, option, w, (long long)min,
            (long long)max, NULL == text ? "" : text);
        return -1;
    }
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (ERANGE == errno || v < min || v > max)
    {
        fprintf(stderr, "%s: %s must be %s in [%lld, %lld], got '%s' (out of range)\n", prog, option, w,
            (long long)min, (long long)max, text);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int tp_args_double(const char *prog, const char *option, const char *text, double min, double max, const char *what,
    double *out)
{
    const char *w = NULL == what ? "a number" : what;
    char *end = NULL;
    bool ok = NULL != text && '\0' != text[0] && ((text[0] >= '0' && text[0] <= '9') || '.' == text[0] ||
        ('-' == text[0] && '\0' != text[1]));
    /* Decimal only: reject hex floats, "inf", "nan" and leading blanks that strtod would accept. */
    for (const char *p = NULL == text ? "" : text; ok && '\0' != *p; p++)
    {
        ok = (*p >= '0' && *p <= '9') || '.' == *p || 'e' == *p || 'E' == *p || '-' == *p || '+' == *p;
    }
    double v = 0.0;
    if (ok)
    {
        errno = 0;
        v = strtod(text, &end);
        ok = NULL != end && '\0' == *end && ERANGE != errno && isfinite(v);
    }
    if (!ok || v < min || v > max)
    {
        fprintf(stderr, "%s: %s must be %s in [%g, %g], got '%s'\n", prog, option, w, min, max,
            NULL == text ? "" : text);
        return -1;
    }
    *out = v;
    return 0;
}

int tp_args_path(const char *prog, const char *option, const char *text, unsigned max_len)
{
    if (NULL == text || '\0' == text[0])
    {
        fprintf(stderr, "%s: %s must not be empty\n", prog, option);
        return -1;
    }
    if (strlen(text) > max_len)
    {
        fprintf(stderr, "%s: %s is longer than %u bytes\n", prog, option, max_len);
        return -1;
    }
    return 0;
}

const char *tp_args_value(const char *prog, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
    {
        fprintf(stderr, "%s: %s needs a value\n", prog, argv[*i]);
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

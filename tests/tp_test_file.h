/*
 * Reading a test input file (a golden vector) whole into an exactly sized heap
 * buffer, so that ASan reports any read past its end. The caller frees it.
 */
#ifndef TP_TESTS_FILE_H
#define TP_TESTS_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The bytes of `dir`/`file` (length in *len), or NULL if it cannot be read. */
static inline uint8_t *tp_test_read_file(const char *dir, const char *file, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (NULL == f)
    {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (NULL != buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
    {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

#endif /* TP_TESTS_FILE_H */

/* Internal file-system helpers: reserve file space up front, report free space. */
#ifndef TP_COMMON_TP_FS_H
#define TP_COMMON_TP_FS_H

#include <stdint.h>

/**
 * Reserve `length` bytes of backing store for the newly created file `fd`
 * (whose path is `path`, used in messages) so that later stores through a
 * shared mapping cannot fault with SIGBUS when the file system fills up
 * (tmpfs allocates pages lazily; a sparse file on a full /dev/shm kills the
 * process that touches it). Uses posix_fallocate() (retried on EINTR); a file
 * system that does not support it (EOPNOTSUPP, EINVAL) gets the file written
 * with zeros instead, which reserves the same blocks; a file system that
 * supports neither (e.g. hugetlbfs without fallocate) is refused with
 * TP_ERR_UNSUPPORTED. The file is extended to at least `length` bytes; its
 * existing contents may be overwritten with zeros, so call it only on a file
 * that holds nothing yet.
 *
 * Not enough space gives TP_ERR_IO with a message naming the size, the
 * directory and its free space, e.g. "not enough space in /dev/shm for
 * /dev/shm/x (needs 8388608 bytes = 8.0 MiB, 4194304 bytes free): ...".
 * The caller removes the file.
 */
int tp_fs_reserve(int fd, uint64_t length, const char *path);

/**
 * The zero-writing fallback of tp_fs_reserve() on its own (for tests and
 * file systems without fallocate): pwrite zeros over [0, length).
 */
int tp_fs_reserve_by_writing(int fd, uint64_t length, const char *path);

/**
 * Bytes available to an unprivileged writer in the file system holding
 * directory `dir` (statvfs f_bavail * f_frsize). -1 with tp_err set on
 * failure.
 */
int tp_fs_free_bytes(const char *dir, uint64_t *free_out);

#endif

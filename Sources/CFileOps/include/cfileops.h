#ifndef LYNX_CFILEOPS_H
#define LYNX_CFILEOPS_H

#include <stdint.h>

/// fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length), retried on EINTR: the range reads
/// as zeros afterwards and the file keeps its size. Returns 0, or -1 with errno set (EOPNOTSUPP where the
/// filesystem cannot). `fallocate` is a GNU extension that Swift's Glibc module does not import.
int lynx_zero_range(int fd, int64_t offset, int64_t length);

#endif

#define _GNU_SOURCE
#include "cfileops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>

int lynx_zero_range(int fd, int64_t offset, int64_t length) {
    int r;
    do {
        r = fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
    } while (r != 0 && errno == EINTR);
    return r;
}

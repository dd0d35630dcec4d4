#include "cheap.h"

#include <malloc.h>

int lynx_release_free_heap(void) {
    return malloc_trim(0);
}

int lynx_set_heap_thresholds(size_t mmap_threshold, size_t trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) && mallopt(M_TRIM_THRESHOLD, (int)trim_threshold);
}

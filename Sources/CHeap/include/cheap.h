#ifndef LYNX_CHEAP_H
#define LYNX_CHEAP_H

#include <stddef.h>

/// malloc_trim(0): gives the free pages of every malloc arena back to the system (those inside the heaps too, not
/// only at their tops). Returns 1 when memory was given back. `malloc_trim` and `mallopt` are GNU extensions that
/// Swift's Glibc module does not import.
int lynx_release_free_heap(void);

/// Fixes glibc's two thresholds, which otherwise move with the largest mapped block freed (up to 32 MiB and 64
/// MiB): blocks of `mmap_threshold` bytes or more are mappings of their own, and a thread arena's free top is
/// given back once it passes `trim_threshold` (`malloc_trim` does not return the top of a thread's arena).
/// Returns 1 when both were set.
int lynx_set_heap_thresholds(size_t mmap_threshold, size_t trim_threshold);

#endif

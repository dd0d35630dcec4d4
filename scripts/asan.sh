#!/usr/bin/env bash
# The Swift unit tests under AddressSanitizer: builds them with -sanitize=address (debug, its own build folder
# .build-asan) and runs them. Any ASan report (out-of-bounds access, use after free, ...) fails the run
# (ASAN_OPTIONS halt_on_error=1; leak detection off).
#   scripts/asan.sh [FILTER]      (default: every unit test)
exec "$(dirname "$0")/sanitizer.sh" address "${1:-}"

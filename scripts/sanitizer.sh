#!/usr/bin/env bash
# Builds the unit tests under one sanitizer (debug, its own build folder .build-<kind>) and runs those matching a
# filter; any report of that sanitizer fails the run. Used by scripts/tsan.sh and scripts/asan.sh.
#   scripts/sanitizer.sh thread|address [FILTER]      (no filter: every unit test)
set -euo pipefail
cd "$(dirname "$0")/.."
kind="$1"
filter="${2:-}"
case "$kind" in
  thread) name=ThreadSanitizer; short=tsan; report="WARNING: ThreadSanitizer"
          export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" ;;
  # Leak detection off: XCTest and the Swift runtime keep allocations until exit.
  address) name=AddressSanitizer; short=asan; report="ERROR: AddressSanitizer"
           export ASAN_OPTIONS="halt_on_error=1 detect_leaks=0 ${ASAN_OPTIONS:-}" ;;
  *) echo "usage: $0 thread|address [FILTER]" >&2; exit 2 ;;
esac
scripts/install-deps.sh
echo "== build ($name, debug)"
log=$(mktemp)
if ! swift build --build-tests --sanitize="$kind" --scratch-path ".build-$short" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "$short build failed" >&2
  exit 1
fi
echo "== tests under $name${filter:+: $filter}"
# Swift's backtracer would wait on a sanitizer's abort; the sanitizer's own report says where.
SWIFT_BACKTRACE=enable=no swift test --skip-build --sanitize="$kind" --scratch-path ".build-$short" ${filter:+--filter "$filter"} 2>&1 \
  | tee "$log" | grep -E "Executed|error|$report|SUMMARY" || true
if grep -q "$report" "$log"; then
  grep -A 30 "$report" "$log" | head -60 >&2
  echo "$name reported an error" >&2
  exit 1
fi
grep -qE "Executed [1-9][0-9]* tests?, with 0 failures" "$log" || { tail -n 30 "$log" >&2; echo "tests failed under $short" >&2; exit 1; }
echo "$short: no error reported"

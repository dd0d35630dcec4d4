#!/usr/bin/env bash
# Writers, searchers and the index builder at once under ThreadSanitizer: builds the engine tests with
# -sanitize=thread (debug, its own build folder .build-tsan) and runs the concurrency tests of the engine.
# Any data race TSan reports fails the run (TSAN_OPTIONS halt_on_error=1).
#   scripts/tsan.sh [FILTER]      (default: EnginePendingTests|EngineConcurrencyTests|EngineServicesTests)
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-EnginePendingTests|EngineConcurrencyTests|EngineServicesTests}"
scripts/install-deps.sh
echo "== build (ThreadSanitizer, debug)"
log=$(mktemp)
if ! swift build --build-tests --sanitize=thread --scratch-path .build-tsan >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "tsan build failed" >&2
  exit 1
fi
echo "== tests under ThreadSanitizer: $filter"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
swift test --skip-build --sanitize=thread --scratch-path .build-tsan --filter "$filter" 2>&1 | tee "$log" | grep -E "Executed|error|WARNING: ThreadSanitizer|SUMMARY" || true
if grep -q "WARNING: ThreadSanitizer" "$log"; then
  grep -A 30 "WARNING: ThreadSanitizer" "$log" | head -60 >&2
  echo "ThreadSanitizer reported a data race" >&2
  exit 1
fi
grep -qE "Executed [1-9][0-9]* tests?, with 0 failures" "$log" || { tail -n 30 "$log" >&2; echo "tests failed under tsan" >&2; exit 1; }
echo "tsan: no data race reported"

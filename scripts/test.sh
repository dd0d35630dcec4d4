#!/usr/bin/env bash
# The one test command (CI runs it through .ci/run): installs what it needs, builds in release mode,
# runs the Swift unit tests, the engine's concurrency tests under ThreadSanitizer (scripts/tsan.sh), then the
# integration tests against real lynxd processes.
# Tests that need ../shared (the dev data set, the peer benchmarks) skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's seconds go to the log (CI's budget is 30 minutes for the whole run).
phase_start=$SECONDS
phase() { echo "== ($((SECONDS - phase_start)) s so far) $*"; }
scripts/install-deps.sh --test

phase "build (release, with tests)"
build_log=$(mktemp)
if ! swift build -c release --build-tests >"$build_log" 2>&1; then
  grep -E 'error|warning: unre' "$build_log" | head -50 >&2 || true
  tail -n 30 "$build_log" >&2
  echo "build failed" >&2
  exit 1
fi
tail -n 1 "$build_log"

phase "Swift unit tests"
unit_log=$(mktemp)
if ! swift test -c release --skip-build >"$unit_log" 2>&1; then
  grep -E "error|failed|Fatal|skipped" "$unit_log" | head -80 >&2 || true
  tail -n 20 "$unit_log" >&2
  echo "Swift unit tests failed" >&2
  exit 1
fi
# Skipped tests, each with its reason (e.g. the dev data set of ../shared is absent on a user's clone).
grep -E ": Test skipped - " "$unit_log" | sed -E 's/^.*: ([A-Za-z0-9_]+\.[A-Za-z0-9_]+) : Test skipped - /skipped \1: /' || true
grep -E "Executed [0-9]+ tests" "$unit_log" | tail -n 1

phase "ThreadSanitizer: writers, searchers and the index builder at once; many engines on shared threads"
scripts/tsan.sh 'EnginePendingTests|EngineServicesTests'

# --- proof (issue 13): libFuzzer, a bounded slice (the fuzz build and 20 s per target). AddressSanitizer over every
# unit test (scripts/asan.sh) is not run here: its debug build and the slower tests cost more than this budget.
phase "libFuzzer: JSON reader, WAL reader, snapshot decoder, replication batch decoder, upsert decoders (scripts/fuzz.sh 20)"
scripts/fuzz.sh 20
# --- end of proof

phase "integration tests (real lynxd over HTTP)"
export LYNXD="$PWD/.build/release/lynxd"
export LYNX_REQUIRE_SERVER=1
.venv-test/bin/python -m pytest Tests/integration -q -ra --durations=25 "$@"
phase "done"

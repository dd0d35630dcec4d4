#!/usr/bin/env bash
# Writers, searchers and the index builder at once under ThreadSanitizer: builds the engine tests with
# -sanitize=thread (debug, its own build folder .build-tsan) and runs the concurrency tests of the engine.
# Any data race TSan reports fails the run (TSAN_OPTIONS halt_on_error=1).
#   scripts/tsan.sh [FILTER]      (default: EnginePendingTests|EngineConcurrencyTests|EngineServicesTests)
exec "$(dirname "$0")/sanitizer.sh" thread "${1:-EnginePendingTests|EngineConcurrencyTests|EngineServicesTests}"

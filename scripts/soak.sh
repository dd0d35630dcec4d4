#!/usr/bin/env bash
# The long soak: bench/soak/soak.py's mixed traffic at 64 connections for 10 minutes (or $1 seconds) through the
# same test the suite runs for 60 s (Tests/integration/test_soak.py). Needs a release build (swift build -c release).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
export LYNXD="${LYNXD:-$PWD/.build/release/lynxd}" LYNX_REQUIRE_SERVER=1 LYNX_SOAK_SECONDS="${1:-600}"
exec .venv-test/bin/python -m pytest Tests/integration/test_soak.py -q -s -p no:cacheprovider

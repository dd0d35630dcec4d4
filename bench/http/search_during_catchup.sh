#!/usr/bin/env bash
# Search latency (p50/p99) and recall@10 at ef 64 with 0, ~5,000 and ~40,000 records pending (acknowledged, not
# yet linked into the HNSW graph) after a SIGKILL restart, each against the same store once linked; and the
# builder's linking rate in search windows vs equally long idle windows, alternating.
# Details in bench/http/search_during_catchup.py (the program; this is the wrapper).
#
#   bench/http/search_during_catchup.sh [WINDOW=300] [MAX_WINDOWS=8] [IDLE=1]
#
# Copies .build/release/lynxd to /tmp/lynxd-bench first unless LYNX_BIN is set. Needs numpy
# (/tmp/peers-venv by default; LYNX_BENCH_PY=python3 if the system one has numpy).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/http/pending_env.sh
exec timeout 1200 "$PY" -u bench/http/search_during_catchup.py "${1:-300}" "${2:-8}" "${3:-1}"

#!/usr/bin/env bash
# Restart time of a 40,000-record HNSW store whose records are all in the log (SIGKILL) vs after a clean stop
# (SIGTERM, shutdown checkpoint), and vs Chroma's restart of the same 40,000 vectors, same run.
# Details in bench/wal/restart_pending.py (the program; this is the wrapper).
#
#   bench/wal/restart_pending.sh [ROUNDS=2]
#
# Copies .build/release/lynxd to /tmp/lynxd-bench first unless LYNX_BIN is set. Needs the peers venv:
# python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install numpy chromadb psutil requests
# Scratch: LYNX_BENCH_TMP (default /tmp; ~250 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/http/pending_env.sh
exec timeout 2400 "$PY" -u bench/wal/restart_pending.py "${1:-2}"

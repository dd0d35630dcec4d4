#!/usr/bin/env bash
# HNSW store ingest (acknowledged records/s, time until all linked) vs a Flat store and vs hnswlib's 2-thread
# build of the same 20,000 dev vectors, alternating rounds; recall@10 at ef 64 of both HNSW indexes.
# Details in bench/http/hnsw_ingest_vs_flat.py (the program; this is the wrapper).
#
#   bench/http/hnsw_ingest_vs_flat.sh [ROUNDS=3]
#
# Copies .build/release/lynxd to /tmp/lynxd-bench first (the tree may be rebuilt meanwhile) unless LYNX_BIN is
# set. Needs the peers venv: python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install numpy hnswlib
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/http/pending_env.sh
exec timeout 1800 "$PY" -u bench/http/hnsw_ingest_vs_flat.py "${1:-3}"

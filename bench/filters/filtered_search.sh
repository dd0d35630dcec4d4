#!/usr/bin/env bash
# Filtered search on the dev set with synthetic metadata: recall@10 and q/s of the planner's default plan, forced
# exact scoring and forced graph traversal at 50% ... 0.01% selectivity, keyword and integer-range filters, and the
# unfiltered figures. Details in bench/filters/filtered_search.py (the program; this is the wrapper).
#
#   bench/filters/filtered_search.sh [QUERIES=500]
#
# Copies .build/release/lynxd to /tmp/lynxd-bench first (the tree may be rebuilt meanwhile) unless LYNX_BIN is
# set. Needs the peers venv (numpy): python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install numpy
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/http/pending_env.sh
exec timeout 1800 "$PY" -u bench/filters/filtered_search.py "${1:-500}"

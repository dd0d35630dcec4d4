#!/usr/bin/env bash
# Long kill/restart loop against lynxd: N cycles (default 200) of concurrent writers, a SIGKILL at a random
# moment, a restart on the same data directory and an exact check of every acknowledged write
# (Tests/integration/crash_workload.py; the pytest suite runs a short version of the same loop).
# Cycles rotate over four setups: --sync flush and --sync always with 64 KiB automatic checkpoints, a
# POST /checkpoint loop with kills during checkpoints, and HNSW with the builder thousands of records behind
# (kills while acknowledged records wait in the pending tail; each restart also searches records by their vector). One summary line per cycle, then "N passed, M failed".
#   scripts/torture.sh [CYCLES] [--seed S] [--keep]      (LYNXD overrides the binary; LYNX_CRASH_INDEX=hnsw|ivf
#                                                          runs it on another index than flat)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-200}"
[ $# -gt 0 ] && shift
export LYNXD="${LYNXD:-$PWD/.build/release/lynxd}"
if [ ! -x "$LYNXD" ]; then
  echo "torture: no lynxd at $LYNXD (swift build -c release --product lynxd)" >&2
  exit 2
fi
py=.venv-test/bin/python
[ -x "$py" ] || py=python3
exec "$py" Tests/integration/crash_workload.py --cycles "$cycles" "$@"

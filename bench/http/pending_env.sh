# Sourced by the pending-tail benchmark wrappers (run from the repository root): pins the lynxd binary (a copy at
# /tmp/lynxd-bench of .build/release/lynxd, since the tree may be rebuilt meanwhile, unless LYNX_BIN is set),
# picks the peers' Python (LYNX_BENCH_PY, default /tmp/peers-venv/bin/python) and prints the machine's state.
if [ -z "${LYNX_BIN:-}" ]; then cp .build/release/lynxd /tmp/lynxd-bench; export LYNX_BIN=/tmp/lynxd-bench; fi
PY=${LYNX_BENCH_PY:-/tmp/peers-venv/bin/python}
export PYTHONDONTWRITEBYTECODE=1
bash ../shared/bench/limits/env_note.sh "${LYNX_BENCH_TMP:-/tmp}"

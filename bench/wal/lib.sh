# Shared helpers for the bench/wal/*.sh programs (sourced, not run). Not a benchmark itself.
#
# Everything runs from the repo root. Scratch files go under $LYNX_BENCH_TMP (default /tmp), which must be
# on the filesystem you want to measure (the group-commit probe and SQLite write there too).
set -euo pipefail

BIN=${LYNX_BIN:-.build/release/lynxd}
LIMITS=${LYNX_LIMITS:-/work/shared/bench/limits}
BENCH_TMP=${LYNX_BENCH_TMP:-/tmp}
_LYNX_PIDS=()
_LYNX_DIRS=()

# The HTTP client: bench/http/loadgen.c (default; built here with gcc) or wrk with bench/http/upsert.lua
# (LYNX_LOADGEN=wrk). See bench/http/ingest_vs_health.sh for why the C client is the default.
LOADGEN_CLIENT=${LYNX_LOADGEN:-c}
LOADGEN_BIN=""
need_tools() {
  if [ "$LOADGEN_CLIENT" = wrk ]; then
    command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
  else
    command -v gcc >/dev/null || { echo "gcc is missing: apt-get install gcc" >&2; exit 1; }
    LOADGEN_BIN=$(mktemp "$BENCH_TMP/lynx-loadgen-XXXXXX")
    _LYNX_DIRS+=("$LOADGEN_BIN")
    gcc -O2 -pthread -o "$LOADGEN_BIN" bench/http/loadgen.c
  fi
  command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 1; }
  [ -x "$BIN" ] || swift build -c release --product lynxd >&2
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load1() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }

# One comment line describing where and when the figures were taken.
env_line() {
  local dir=$1
  echo "# $(date -u +%FT%TZ) lynxd $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(nproc) cores;" \
    "fs=$(df -T "$dir" | awk 'NR==2{print $1"("$2")"}') dir=$dir load=$(loadavg);" \
    "busiest: $(ps -eo pid,pcpu,comm --sort=-pcpu --no-headers | head -3 | awk '{printf "%s:%s:%s%% ", $1,$3,$2}')"
}

# start_lynxd VAR DATA_DIR [flags...]: starts lynxd on a free port; sets VAR_url, VAR_pid, VAR_log.
start_lynxd() {
  local name=$1 data=$2; shift 2
  local log="$data.log"
  "$BIN" --port 0 --data-dir "$data" "$@" 2>"$log" &
  local pid=$!
  _LYNX_PIDS+=("$pid"); _LYNX_DIRS+=("$data" "$log")
  local port=""
  for _ in $(seq 600); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "lynxd exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "lynxd did not become healthy:" >&2; cat "$log" >&2; exit 1; }
  printf -v "${name}_url" '%s' "http://127.0.0.1:$port"
  printf -v "${name}_pid" '%s' "$pid"
  printf -v "${name}_log" '%s' "$log"
}

stop_lynxd() { # stop_lynxd PID: SIGTERM and wait (clean shutdown)
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cleanup_all() {
  local p
  for p in "${_LYNX_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${_LYNX_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  [ "${LYNX_BENCH_KEEP:-0}" = 1 ] || for p in "${_LYNX_DIRS[@]:-}"; do [ -n "$p" ] && rm -rf "$p"; done
}

# metric URL NAME: value of an unlabelled Prometheus sample.
metric() {
  curl -s "$1/metrics" | awk -v n="$2" '$1 == n {print $2; exit}'
}

# load_upsert VAR URL CONNS SECS [QUERY]: single 384-d upserts over CONNS keep-alive connections (client threads
# min(CONNS,2)) with ids never used before by this script; sets VAR to "rps p50_us p99_us requests". Fails on any
# HTTP or socket error.
_ID_OFFSET=0
load_upsert() {
  local var=$1 url=$2 c=$3 secs=$4 query=${5:-}
  local t=$(( c < 2 ? c : 2 ))
  _ID_OFFSET=$(( _ID_OFFSET + 1 ))
  local _out _line _res
  if [ "$LOADGEN_CLIENT" = wrk ]; then
    _out=$(LYNX_BENCH_DIM=384 LYNX_BENCH_QUERY="$query" LYNX_BENCH_ID_OFFSET=$(( _ID_OFFSET * 10000000 )) \
      wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s -s bench/http/upsert.lua "$url/vectors")
  else
    _out=$("$LOADGEN_BIN" upsert "${url##*:}" "$c" "$secs" "$t" 384 $(( _ID_OFFSET * 1000000000 )) "$query")
  fi
  _line=$(grep LYNX_RESULT <<<"$_out")
  _res=$(python3 - "$_line" <<'EOF2'
import re, sys
kv = dict(re.findall(r"(\w+)=([0-9.]+)", sys.argv[1]))
if int(kv["errors_status"]) or int(kv["errors_other"]):
    sys.exit("errors in load run: " + sys.argv[1])
print(round(int(kv["requests"]) / float(kv["seconds"])), kv["p50_us"], kv["p99_us"], kv["requests"])
EOF2
)
  printf -v "$var" "%s" "$_res"
}

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.3f}' if b else 'null')" "$1" "$2"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "$@"; }

#!/usr/bin/env bash
# Durable ingest (`--sync always`, Flat, 384-d, POST /vectors of one record) of two lynxd binaries, A and B,
# alternated ABBA in one run: for checking that a change to the commit path did not cost group commit.
#   bench/wal/durable_ab.sh BIN_A BIN_B [CONNECTIONS=64] [SECONDS=5] [ROUNDS=2]
# Prints one line per run (`LYNX_RESULT` of bench/http/loadgen.c, with the binary's label and the load average).
set -euo pipefail
cd "$(dirname "$0")/../.."
a=$1; b=$2; conns=${3:-64}; secs=${4:-5}; rounds=${5:-2}
loadgen=$(mktemp /tmp/lynx-loadgen-XXXX)
gcc -O2 -pthread -o "$loadgen" bench/http/loadgen.c
run() {
  local label=$1 bin=$2 dir port="" pid
  dir=$(mktemp -d "${LYNX_BENCH_TMP:-/tmp}/lynx-ab-XXXX")
  # Port 0 (the kernel picks a free one), read back from the log: a fixed guess may be another server's.
  "$bin" --port 0 --data-dir "$dir/data" --dimension 384 --index flat --sync always >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/log")
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$dir/log" >&2; exit 1; }
  echo "$label conns=$conns load=$(cut -d' ' -f1 /proc/loadavg) $("$loadgen" upsert "$port" "$conns" "$secs" 2 384)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
}
for _ in $(seq 1 "$rounds"); do
  run A "$a"; run B "$b"; run B "$b"; run A "$a"
done
rm -f "$loadgen"

#!/usr/bin/env bash
# Ingest vs health: drives POST /vectors (single 384-d records, 32 keep-alive connections) and GET /health
# (same connections) against one lynxd, alternating rounds, and prints each rate and the ratio
# ingest/health per round. Machines are shared, so only the ratio within a round means much.
#
#   bench/http/ingest_vs_health.sh [SECONDS_PER_RUN=8] [ROUNDS=3] [extra lynxd flags...]
#
# The client is bench/http/loadgen.c (built here with gcc; 2 threads, one request in flight per connection,
# requests prepared in memory), which costs the client about the same per request of either kind. LYNX_LOADGEN=wrk
# uses wrk and the Lua scripts beside this file instead (apt-get install wrk); wrk's Lua hook costs more per ingest
# request than per health request, and both clients share the 2 cores with the server.
#
# Needs gcc (or wrk) and a release build (swift build -c release --product lynxd); LYNX_BIN=path runs another build.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-8}; rounds=${2:-3}; shift $(( $# > 2 ? 2 : $# )) || true
client=${LYNX_LOADGEN:-c}
if [ "$client" = wrk ]; then
  command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
else
  loadgen=$(mktemp /tmp/lynx-loadgen-XXXXXX)
  gcc -O2 -pthread -o "$loadgen" bench/http/loadgen.c
fi
bin=${LYNX_BIN:-.build/release/lynxd}  # LYNX_BIN: another build, for A/B runs
[ -x "$bin" ] || swift build -c release --product lynxd >&2

data=$(mktemp -d /tmp/lynx-bench-XXXXXX)
log="$data.log"
"$bin" --port 0 --data-dir "$data" --dimension 384 --index flat "$@" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$log" ${loadgen:+"$loadgen"}' EXIT
for _ in $(seq 100); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
[ -n "${port:-}" ] || { echo "lynxd did not start:"; cat "$log"; exit 1; }
url="http://127.0.0.1:$port"

rate() { # prints requests/s from a wrk run's LYNX_RESULT line; fails on any error
  local line; line=$(grep LYNX_RESULT <<<"$1")
  local req secs es eo
  req=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line"); secs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  es=$(sed -E 's/.*errors_status=([0-9]+).*/\1/' <<<"$line"); eo=$(sed -E 's/.*errors_other=([0-9]+).*/\1/' <<<"$line")
  if [ "$es" != 0 ] || [ "$eo" != 0 ]; then echo "errors in run: $line" >&2; return 1; fi
  python3 -c "print(round($req/$secs))"
}

echo "# lynxd $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg); ${secs}s per run, 32 connections, client $client with 2 threads"
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }  # lynxd's user+system CPU ticks (1/100 s)
worst=""
for r in $(seq "$rounds"); do
  c0=$(cpu)
  if [ "$client" = wrk ]; then
    h=$(wrk -t2 -c32 -d"${secs}s" -s bench/http/health.lua "$url/health")
  else
    h=$("$loadgen" health "$port" 32 "$secs" 2)
  fi
  c1=$(cpu)
  if [ "$client" = wrk ]; then
    i=$(LYNX_BENCH_DIM=384 LYNX_BENCH_ID_OFFSET=$((r * 10000000)) wrk -t2 -c32 -d"${secs}s" -s bench/http/upsert.lua "$url/vectors")
  else
    i=$("$loadgen" upsert "$port" 32 "$secs" 2 384 $((r * 1000000000)))
  fi
  c2=$(cpu)
  hr=$(rate "$h"); ir=$(rate "$i")
  ratio=$(python3 -c "print(f'{$ir/$hr:.3f}')")
  # lynxd CPU per request (us), from its tick counters
  hcpu=$(python3 -c "print(round(($c1-$c0)*1e4/($hr*$secs),1))"); icpu=$(python3 -c "print(round(($c2-$c1)*1e4/($ir*$secs),1))")
  echo "{\"round\": $r, \"health_rps\": $hr, \"ingest_rps\": $ir, \"ingest_over_health\": $ratio, \"ingest_p99_us\": $(grep -o 'p99_us=[0-9]*' <<<"$i" | cut -d= -f2), \"health_p99_us\": $(grep -o 'p99_us=[0-9]*' <<<"$h" | cut -d= -f2), \"lynxd_cpu_us_per_health\": $hcpu, \"lynxd_cpu_us_per_ingest\": $icpu}"
done
count=$(curl -s "$url/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
echo "# vectors stored after the runs: $count; load: $(cut -d' ' -f1-3 /proc/loadavg)"

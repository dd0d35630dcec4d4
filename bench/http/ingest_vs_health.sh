#!/usr/bin/env bash
# Ingest vs health: drives POST /vectors (single 384-d records, 32 keep-alive connections) and GET /health
# (same connections) against one lynxd, alternating rounds, and prints each rate and the ratio
# ingest/health per round. Machines are shared, so only the ratio within a round means much.
#
#   bench/http/ingest_vs_health.sh [SECONDS_PER_RUN=8] [ROUNDS=3] [extra lynxd flags...]
#
# Needs wrk (apt-get install wrk) and a release build (swift build -c release --product lynxd).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-8}; rounds=${2:-3}; shift $(( $# > 2 ? 2 : $# )) || true
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bin=.build/release/lynxd
[ -x "$bin" ] || swift build -c release --product lynxd >&2

data=$(mktemp -d /tmp/lynx-bench-XXXXXX)
log="$data.log"
"$bin" --port 0 --data-dir "$data" --dimension 384 --index flat "$@" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
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

echo "# lynxd $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg); ${secs}s per run, 32 connections, 2 wrk threads"
worst=""
for r in $(seq "$rounds"); do
  h=$(wrk -t2 -c32 -d"${secs}s" -s bench/http/health.lua "$url/health")
  i=$(LYNX_BENCH_DIM=384 wrk -t2 -c32 -d"${secs}s" -s bench/http/upsert.lua "$url/vectors")
  hr=$(rate "$h"); ir=$(rate "$i")
  ratio=$(python3 -c "print(f'{$ir/$hr:.3f}')")
  echo "{\"round\": $r, \"health_rps\": $hr, \"ingest_rps\": $ir, \"ingest_over_health\": $ratio, \"ingest_p99_us\": $(grep -o 'p99_us=[0-9]*' <<<"$i" | cut -d= -f2), \"health_p99_us\": $(grep -o 'p99_us=[0-9]*' <<<"$h" | cut -d= -f2)}"
done
count=$(curl -s "$url/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
echo "# vectors stored after the runs: $count; load: $(cut -d' ' -f1-3 /proc/loadavg)"

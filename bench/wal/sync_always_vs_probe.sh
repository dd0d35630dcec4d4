#!/usr/bin/env bash
# Durable single-record ingest: lynxd --sync always against the group-commit ceiling of this disk.
#
# What it measures: POST /vectors with one fresh-id 384-d record per request (bench/http/upsert.lua) over
# 1, 4, 16 and 64 keep-alive connections (bench/http/loadgen.c, or wrk when LYNX_LOADGEN=wrk; min(N,2) client threads) against lynxd --sync always --index flat
# --dimension 384 on a fresh data dir; every answer is sent only after its record is fdatasync'd. The
# baseline is /work/shared/bench/limits/group_commit.c (N writer threads, one flusher doing one write +
# one fdatasync per batch; no HTTP, no JSON, no index) with N threads, writing records of the size of our
# WAL frame (measured first: lynx_wal_bytes_written_total / records) into the same filesystem. Probe and
# lynx alternate at each concurrency, and the order flips every other step (ABBA), so drift in the machine's
# load hits both. Checkpoints are pushed out of the way (--checkpoint-wal-bytes 4 GiB, --checkpoint-interval
# 86400): the probe never checkpoints either.
#
# Prints one JSON line per measurement, then a final {"summary": ...} line with the median lynx/probe ratio
# per concurrency; the goal is lynx >= 0.5 x probe at 64 connections.
#
#   bench/wal/sync_always_vs_probe.sh [SECONDS_PER_RUN=6] [REPS=2]
#
# Env: LYNX_BENCH_TMP (scratch dir, default /tmp), LYNX_LIMITS (default /work/shared/bench/limits).
# Needs gcc (wrk with LYNX_LOADGEN=wrk), python3 and a release build (swift build -c release --product lynxd).
cd "$(dirname "$0")/../.."
source bench/wal/lib.sh
secs=${1:-6}; reps=${2:-2}
need_tools

work=$(mktemp -d "$BENCH_TMP/lynx-walbench-XXXXXX")
trap 'cleanup_all; rm -rf "$work"' EXIT
gcc -O2 -Wall -pthread -o "$work/group_commit" "$LIMITS/group_commit.c"
mkdir -p "$work/probe"

start_lynxd L "$work/data" --sync always --index flat --dimension 384 \
  --checkpoint-wal-bytes 4294967296 --checkpoint-interval 86400
env_line "$work"

# Frame size: warm up for 2 s, then bytes logged / records.
load_upsert warm "$L_url" 4 2
bytes=$(metric "$L_url" lynx_wal_bytes_written_total)
records=$(curl -s "$L_url/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["inserts"])')
rec=$(python3 -c "print(round(float('$bytes')/float('$records')))")
echo "{\"frame_bytes\": $rec, \"wal_bytes_written\": $bytes, \"records\": $records}"

declare -A R
step=0
for rep in $(seq "$reps"); do
  for n in 1 4 16 64; do
    step=$((step + 1))
    run_probe() {
      local out; out=$("$work/group_commit" "$work/probe" "$n" "$rec" "$secs")
      probe_rps=$(grep -o 'durable_recs_per_s=[0-9]*' <<<"$out" | cut -d= -f2)
      probe_p99=$(grep -o 'commit_lat_p99_us=[0-9]*' <<<"$out" | cut -d= -f2)
      probe_load=$(load1)
    }
    run_lynx() {
      local res; load_upsert res "$L_url" "$n" "$secs"
      read -r lynx_rps lynx_p50 lynx_p99 _ <<<"$res"
      lynx_load=$(load1)
    }
    if (( step % 2 )); then order="probe,lynx"; run_probe; run_lynx; else order="lynx,probe"; run_lynx; run_probe; fi
    r=$(ratio "$lynx_rps" "$probe_rps")
    R[$n]="${R[$n]:-} $r"
    echo "{\"rep\": $rep, \"connections\": $n, \"order\": \"$order\", \"probe_durable_rps\": $probe_rps, \"probe_p99_us\": $probe_p99, \"probe_load1\": $probe_load, \"lynx_durable_rps\": $lynx_rps, \"lynx_p50_us\": $lynx_p50, \"lynx_p99_us\": $lynx_p99, \"lynx_load1\": $lynx_load, \"lynx_over_probe\": $r}"
  done
done

fsyncs=$(curl -s "$L_url/metrics" | awk '$1=="lynx_wal_fsync_duration_seconds_count"{print $2}')
echo "# lynx fdatasyncs in total: ${fsyncs:-?}; vectors: $(metric "$L_url" lynx_vectors); load: $(loadavg)"
m1=$(median ${R[1]}); m4=$(median ${R[4]}); m16=$(median ${R[16]}); m64=$(median ${R[64]})
goal=$(python3 -c "print('true' if $m64 >= 0.5 else 'false')")
echo "{\"summary\": \"lynx --sync always / group-commit probe, median of $reps\", \"c1\": $m1, \"c4\": $m4, \"c16\": $m16, \"c64\": $m64, \"goal\": \"c64 >= 0.5\", \"goal_met\": $goal, \"frame_bytes\": $rec, \"load\": \"$(loadavg)\"}"

#!/usr/bin/env bash
# What the write-ahead log costs on ingest: lynxd --wal off (no log: the baseline) vs --sync flush (the
# default: each write copied into the mapped log, fdatasync at most every --sync-interval=1 s, checkpoints by size and time).
#
# What it measures: POST /vectors, one fresh-id 384-d record per request, 32 keep-alive connections
# (32 connections, 2 client threads: bench/http/loadgen.c, or wrk with LYNX_LOADGEN=wrk), against two lynxd (fresh data dirs, both running the whole time, only one loaded at a
# time), alternating off/flush every round with the order flipped each round (ABBA). Both get the same
# --checkpoint-wal-bytes and --checkpoint-interval: the defaults, 67108864 (64 MiB) and 300 s. With --wal off
# nothing is logged, so only the 300 s interval could checkpoint it (it does not within a run); with the
# log on, a checkpoint starts each time 64 MiB (~42k records) of log is not yet in a snapshot, and the
# script prints how many ran, since their cost is part of what the log costs.
#
# One JSON line per round; final {"summary": ...} line with the median flush/off ratio. Goal: >= 0.8.
#
#   bench/wal/wal_cost.sh [SECONDS_PER_RUN=8] [ROUNDS=4]
#
# Env: LYNX_BENCH_TMP (scratch dir, default /tmp); LYNX_BENCH_CKPT_BYTES / LYNX_BENCH_CKPT_INTERVAL override the
# checkpoint settings of both servers (e.g. 4294967296 to see the cost of the log appends without checkpoints). Needs gcc (wrk with LYNX_LOADGEN=wrk), python3, a release build of lynxd.
cd "$(dirname "$0")/../.."
source bench/wal/lib.sh
secs=${1:-8}; rounds=${2:-4}
need_tools
ckb=${LYNX_BENCH_CKPT_BYTES:-67108864}; cki=${LYNX_BENCH_CKPT_INTERVAL:-300}

work=$(mktemp -d "$BENCH_TMP/lynx-walbench-XXXXXX")
trap 'cleanup_all; rm -rf "$work"' EXIT
start_lynxd O "$work/off" --wal off --index flat --dimension 384 --checkpoint-wal-bytes $ckb --checkpoint-interval $cki
start_lynxd F "$work/flush" --wal on --sync flush --index flat --dimension 384 --checkpoint-wal-bytes $ckb --checkpoint-interval $cki
env_line "$work"
echo "# --checkpoint-wal-bytes $ckb --checkpoint-interval $cki for both; 32 connections, 2 client threads ($LOADGEN_CLIENT), ${secs}s per run"

ckpts() { curl -s "$1/metrics" | awk '$1=="lynx_checkpoints_total{result=\"success\"}"{print $2}'; }
R=""
for r in $(seq "$rounds"); do
  run_off() { local res; load_upsert res "$O_url" 32 "$secs"; read -r o_rps _ o_p99 _ <<<"$res"; o_load=$(load1); }
  run_flush() {
    local before res; before=$(ckpts "$F_url")
    load_upsert res "$F_url" 32 "$secs"; read -r f_rps _ f_p99 _ <<<"$res"; f_load=$(load1)
    f_ck=$(( $(ckpts "$F_url") - before ))
  }
  if (( r % 2 )); then order="off,flush"; run_off; run_flush; else order="flush,off"; run_flush; run_off; fi
  q=$(ratio "$f_rps" "$o_rps"); R="$R $q"
  echo "{\"round\": $r, \"order\": \"$order\", \"off_rps\": $o_rps, \"off_p99_us\": $o_p99, \"off_load1\": $o_load, \"flush_rps\": $f_rps, \"flush_p99_us\": $f_p99, \"flush_load1\": $f_load, \"flush_checkpoints_in_run\": $f_ck, \"flush_over_off\": $q}"
done
echo "# vectors: off=$(metric "$O_url" lynx_vectors) flush=$(metric "$F_url" lynx_vectors); flush checkpoints: $(ckpts "$F_url"), off checkpoints: $(ckpts "$O_url"); fsyncs (flush): $(curl -s "$F_url/metrics" | awk '$1=="lynx_wal_fsync_duration_seconds_count"{print $2}'); load: $(loadavg)"
m=$(median $R)
echo "{\"summary\": \"lynx --sync flush / --wal off, 32 connections, median of $rounds\", \"flush_over_off\": $m, \"goal\": \">= 0.8\", \"goal_met\": $(python3 -c "print('true' if $m >= 0.8 else 'false')"), \"checkpoint_wal_bytes\": $ckb, \"checkpoint_interval_s\": $cki, \"load\": \"$(loadavg)\"}"

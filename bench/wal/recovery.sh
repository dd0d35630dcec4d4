#!/usr/bin/env bash
# Crash recovery and checkpoint stalls on a 100k-record store.
#
# Builds a data dir: 100,000 x 384-d records POSTed in batches of 1000 (lynxd --sync flush), POST /checkpoint
# (snapshot 1), then more batches until ~64 MiB of log is not in a snapshot, then SIGKILL. Both lynxd runs
# use --checkpoint-wal-bytes 4 GiB and --checkpoint-interval 86400 so no other checkpoint happens.
#
# 1. Restart (REPS times, cold then warm each time): wall time from exec of lynxd to the first /health 200
#    (polled every 10 ms), the snapshot load and the log replay. Replay time = arrival of lynxd's
#    "replayed the log" line - arrival of its "loaded snapshot" line (stderr lines are timestamped as they
#    arrive; lynxd's own timestamps have 1 s resolution). Replay rate = log file bytes / replay time,
#    compared with `cat LOG > /dev/null` of the same file in the same state of the page cache:
#      cold: `sync; echo 3 > /proc/sys/vm/drop_caches` before the restart and again before the cat (needs root);
#      warm: the data dir is read once before the restart; the cat follows the restart (file cached).
#    lynx_recovery_duration_seconds (snapshot + replay) and lynx_recovery_frames_replayed are printed too.
#    Each restart ends with SIGTERM (clean stop: the log is synced, no checkpoint), so every restart replays
#    the same log.
# 2. Write stall during a checkpoint: on the recovered store (~142k records), a single-connection writer
#    POSTs one record at a time (--sync flush) while POST /checkpoint runs CHECKPOINTS times with QUIET
#    seconds of writes between; per-write latency during checkpoints vs outside (max, p99). Goal: max <= 100 ms.
#
# One JSON line per measurement, then {"summary": ...} lines.
#
#   bench/wal/recovery.sh [REPS=2] [CHECKPOINTS=3] [QUIET_SECONDS=3]
#
# Env: LYNX_BENCH_TMP (scratch dir, default /tmp; ~600 MB); LYNX_BENCH_INDEX (flat, the default, or hnsw / ivf). Needs python3, curl, a release build of lynxd.
cd "$(dirname "$0")/../.."
source bench/wal/lib.sh
reps=${1:-2}; nck=${2:-3}; quiet=${3:-3}
need_tools
flags=(--sync flush --index "${LYNX_BENCH_INDEX:-flat}" --dimension 384 --checkpoint-wal-bytes 4294967296 --checkpoint-interval 86400)

work=$(mktemp -d "$BENCH_TMP/lynx-walbench-XXXXXX")
trap 'cleanup_all; rm -rf "$work"' EXIT
data="$work/data"
env_line "$work"

# --- build the data dir
start_lynxd B "$data" "${flags[@]}"
python3 bench/wal/recovery_client.py load "$B_url" 0 100000 1000
ck=$(curl -sf -X POST "$B_url/checkpoint")
echo "{\"checkpoint\": $ck}"
python3 bench/wal/recovery_client.py fill-log "$B_url" 100000 $((64 << 20)) 1000
kill -9 "$B_pid"; wait "$B_pid" 2>/dev/null || true
sync
snap=$(ls "$data"/snapshot-*.lsnap | tail -1)
# The live log is generation = snapshot seq, in wal-(seq % 2).log; the other file is the dead generation
# the snapshot covers (kept until a later generation reuses it; never replayed).
seq=$(basename "$snap" .lsnap); seq=$((10#${seq#snapshot-}))
wal="$data/wal-$((seq % 2)).log"
# The snapshot is its .lsnap file and the row chunk files it refers to (rows/, the vectors; since 277f29c).
snap_files=("$snap"); [ -d "$data/rows" ] && snap_files+=("$data"/rows/*.lrows)
wal_bytes=$(stat -c %s "$wal"); snap_bytes=$(cat "${snap_files[@]}" | wc -c)
echo "{\"log_file\": \"$(basename "$wal")\", \"log_bytes\": $wal_bytes, \"snapshot_bytes\": $snap_bytes, \"files\": \"$(cd "$data" && ls -l | awk 'NR>1{printf "%s:%s ", $9, $5}')\"}"

can_drop=0; { echo 1 > /proc/sys/vm/drop_caches; } 2>/dev/null && can_drop=1
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

restart() { # restart cold|warm: prints one JSON line
  local mode=$1 log="$work/restart.log"
  if [ "$mode" = cold ]; then drop; else cat "$data"/* "${snap_files[@]}" >/dev/null 2>&1 || true; fi
  local l0; l0=$(load1)
  local t0; t0=$(now)
  "$BIN" --port 0 --data-dir "$data" "${flags[@]}" \
    2> >(python3 -u -c 'import sys, time
for line in sys.stdin: print(f"{time.time():.6f} {line}", end="", flush=True)' >"$log") &
  local pid=$! port="" t1=""
  for _ in $(seq 60000); do
    port=${port:-$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)}
    if [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/health"; then t1=$(now); break; fi
    kill -0 "$pid" 2>/dev/null || { echo "lynxd exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.01
  done
  local url="http://127.0.0.1:$port"
  local rec frames
  rec=$(metric "$url" lynx_recovery_duration_seconds); frames=$(metric "$url" lynx_recovery_frames_replayed)
  local count; count=$(metric "$url" lynx_vectors)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ts_snap ts_rep
  ts_snap=$(awk '/loaded snapshot/{print $1; exit}' "$log"); ts_rep=$(awk '/replayed the log/{print $1; exit}' "$log")
  # the cat baseline, same cache state
  if [ "$mode" = cold ]; then drop; fi
  local c0 c1; c0=$(now); cat "$wal" >/dev/null; c1=$(now)
  local s0 s1; if [ "$mode" = cold ]; then drop; fi; s0=$(now); cat "${snap_files[@]}" >/dev/null; s1=$(now)
  python3 - "$mode" "$t0" "$t1" "$ts_snap" "$ts_rep" "$c0" "$c1" "$s0" "$s1" "$wal_bytes" "$snap_bytes" "$rec" "$frames" "$count" "$l0" "$(load1)" <<'EOF'
import json, sys
mode, t0, t1, tsn, trp, c0, c1, s0, s1, wb, sb, rec, frames, count, l0, l1 = sys.argv[1:]
t0, t1, tsn, trp, c0, c1, s0, s1 = map(float, (t0, t1, tsn, trp, c0, c1, s0, s1))
wb, sb = int(wb), int(sb)
replay = trp - tsn
print(json.dumps({
    "cache": mode, "restart_to_health_200_s": round(t1 - t0, 3), "snapshot_phase_s": round(tsn - t0, 3),
    "replay_s": round(replay, 3), "replay_MBps": round(wb / replay / 1e6, 1),
    "cat_log_s": round(c1 - c0, 3), "cat_log_MBps": round(wb / (c1 - c0) / 1e6, 1),
    "replay_over_cat": round((c1 - c0) / replay, 3),
    "cat_snapshot_s": round(s1 - s0, 3), "snapshot_phase_over_cat_snapshot": round((s1 - s0) / (tsn - t0), 3),
    "lynx_recovery_duration_seconds": float(rec), "lynx_recovery_frames_replayed": int(float(frames)),
    "vectors": int(float(count)), "load1_before": float(l0), "load1_after": float(l1)}))
EOF
}

R=""
for r in $(seq "$reps"); do
  for mode in cold warm; do
    if [ "$mode" = cold ] && [ "$can_drop" = 0 ]; then echo "# cannot write /proc/sys/vm/drop_caches (not root): cold runs skipped"; continue; fi
    line=$(restart "$mode"); echo "$line"
    R="$R $mode:$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["replay_over_cat"], d["replay_MBps"], d["restart_to_health_200_s"], sep=",")' "$line")"
  done
done
python3 - $R <<'EOF'
import json, statistics, sys
by = {}
for item in sys.argv[1:]:
    mode, vals = item.split(":")
    by.setdefault(mode, []).append([float(v) for v in vals.split(",")])
out = {"summary": "log replay rate / cat of the same file (median)"}
for mode, rows in by.items():
    out[mode] = {"replay_over_cat": statistics.median(r[0] for r in rows), "replay_MBps": statistics.median(r[1] for r in rows),
                 "restart_s": statistics.median(r[2] for r in rows)}
print(json.dumps(out))
EOF

# --- write stall during checkpoints
start_lynxd S "$data" "${flags[@]}"
echo "# stall test on $(metric "$S_url" lynx_vectors) vectors, --sync flush, load: $(loadavg)"
out=$(python3 bench/wal/recovery_client.py stall "$S_url" 500000000 "$nck" "$quiet")
echo "$out"
echo "# checkpoint durations: $(curl -s "$S_url/metrics" | grep -E '^lynx_checkpoint_duration_seconds_(sum|count)' | tr '\n' ' ') load: $(loadavg)"
python3 -c 'import json,sys; d=json.loads(sys.argv[1].splitlines()[-1]); print(json.dumps({"summary": "longest write stall during POST /checkpoint", "max_ms_during": d["max_ms_during"], "p99_ms_during": d["p99_ms_during"], "max_ms_outside": d["max_ms_outside"], "p99_ms_outside": d["p99_ms_outside"], "max_during_over_max_outside": round(d["max_ms_during"]/d["max_ms_outside"], 2), "goal": "max_ms_during <= 100", "goal_met": d["max_ms_during"] <= 100}))' "$out"
echo "# load: $(loadavg)"

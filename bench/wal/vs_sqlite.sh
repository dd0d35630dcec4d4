#!/usr/bin/env bash
# Lynx single-record ingest against SQLite doing the same load, durable and not.
#
# What it measures, at 1, 4, 16 and 64 concurrent writers, alternating (the order flips every other step):
#   - lynxd --sync always  vs SQLite synchronous=FULL   (every acknowledged write fdatasync'd)
#   - lynxd --sync flush   vs SQLite synchronous=NORMAL (written to the OS per write, synced later)
# Lynx: POST /vectors, one fresh-id 384-d record per request, over N keep-alive connections (bench/http/loadgen.c or, with LYNX_LOADGEN=wrk, wrk -c N
# -t min(N,2)), fresh data dirs, default checkpoint settings (64 MiB / 300 s). SQLite 3 via Python
# (bench/wal/sqlite_ingest.py): WAL mode, one transaction per insert of an integer id + a 1536-byte blob
# (the 384 float32 of a record, pre-built, so SQLite does no JSON/HTTP work), default wal_autocheckpoint,
# fresh database per run, on the same filesystem.
#
# SQLite has one writer at a time. We run it two ways and compare Lynx with the better of the two:
#   "single": one writer thread, which is how SQLite is used in practice (an application funnels its
#             writes through one connection; its throughput does not depend on how many clients queue);
#   "threads": N Python threads with N connections and busy_timeout=10 s inserting concurrently (the GIL
#             is released in sqlite3_step; losers sleep in SQLite's busy handler).
# The "single" run is shared by every N (measured once per rep per mode, next to the N=1 step).
#
# One JSON line per measurement; final {"summary": ...} line with median ratios lynx/sqlite_best per N.
# Goals: Lynx always >= SQLite FULL; Lynx flush >= SQLite NORMAL.
#
#   bench/wal/vs_sqlite.sh [SECONDS_PER_RUN=5] [REPS=2]
#
# Env: LYNX_BENCH_TMP (scratch dir, default /tmp). Needs gcc (wrk with LYNX_LOADGEN=wrk), python3, a release build of lynxd.
cd "$(dirname "$0")/../.."
source bench/wal/lib.sh
secs=${1:-5}; reps=${2:-2}
need_tools

work=$(mktemp -d "$BENCH_TMP/lynx-walbench-XXXXXX")
trap 'cleanup_all; rm -rf "$work"' EXIT
mkdir -p "$work/sqlite"

start_lynxd A "$work/always" --sync always --index flat --dimension 384
start_lynxd F "$work/flush" --sync flush --index flat --dimension 384
env_line "$work"

sqlite_run() { # sqlite_run SYNC THREADS -> sets sq_rps sq_p99
  local out; out=$(python3 bench/wal/sqlite_ingest.py "$work/sqlite" "$1" "$2" "$secs")
  sq_rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["inserts_per_s"])' "$out")
  sq_p99=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99_us"])' "$out")
}

declare -A RA RF
step=0
for rep in $(seq "$reps"); do
  for n in 1 4 16 64; do
    for mode in always flush; do
      step=$((step + 1))
      if [ "$mode" = always ]; then url=$A_url; sync=FULL; else url=$F_url; sync=NORMAL; fi
      run_lynx() { local res; load_upsert res "$url" "$n" "$secs"; read -r l_rps _ l_p99 _ <<<"$res"; l_load=$(load1); }
      run_sqlite() {
        sqlite_run "$sync" "$n"; t_rps=$sq_rps; t_p99=$sq_p99
        if [ "$n" = 1 ]; then eval "single_${mode}=$t_rps"; fi
        s_load=$(load1)
      }
      if (( step % 2 )); then order="lynx,sqlite"; run_lynx; run_sqlite; else order="sqlite,lynx"; run_sqlite; run_lynx; fi
      single_var="single_${mode}"; single=${!single_var}
      best=$(( t_rps > single ? t_rps : single ))
      r=$(ratio "$l_rps" "$best")
      if [ "$mode" = always ]; then RA[$n]="${RA[$n]:-} $r"; else RF[$n]="${RF[$n]:-} $r"; fi
      echo "{\"rep\": $rep, \"writers\": $n, \"lynx\": \"--sync $mode\", \"sqlite\": \"synchronous=$sync\", \"order\": \"$order\", \"lynx_rps\": $l_rps, \"lynx_p99_us\": $l_p99, \"lynx_load1\": $l_load, \"sqlite_threads_rps\": $t_rps, \"sqlite_threads_p99_us\": $t_p99, \"sqlite_single_writer_rps\": $single, \"sqlite_load1\": $s_load, \"lynx_over_sqlite_best\": $r}"
    done
  done
done
ck() { curl -s "$1/metrics" | awk '/^lynx_checkpoints_total/{printf "%s ", $0}'; }
echo "# lynx --sync always: $(ck "$A_url"); --sync flush: $(ck "$F_url"); load: $(loadavg)"
sa=""; sf=""
for n in 1 4 16 64; do sa="$sa\"c$n\": $(median ${RA[$n]}), "; sf="$sf\"c$n\": $(median ${RF[$n]}), "; done
ga=$(python3 -c "print('true' if min([$(median ${RA[1]}), $(median ${RA[4]}), $(median ${RA[16]}), $(median ${RA[64]})]) >= 1 else 'false')")
gf=$(python3 -c "print('true' if min([$(median ${RF[1]}), $(median ${RF[4]}), $(median ${RF[16]}), $(median ${RF[64]})]) >= 1 else 'false')")
echo "{\"summary\": \"lynx / best SQLite (single writer or N threads), median of $reps\", \"always_over_full\": {${sa}\"goal_met\": $ga}, \"flush_over_normal\": {${sf}\"goal_met\": $gf}, \"load\": \"$(loadavg)\"}"

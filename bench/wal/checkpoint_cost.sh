#!/usr/bin/env bash
# Checkpoint cost, A/B: CPU seconds and wall time of one `POST /checkpoint` of the same store, for two builds
# alternately (the machines are shared: only figures from one invocation compare).
#
#   bench/wal/checkpoint_cost.sh [RECORDS=250000] [ROUNDS=3] [BUILD_A=.build/release/lynxd] [BUILD_B=...]
#
# Fills one data directory with RECORDS random 384-d records (Flat; batches of 1,000 over HTTP; BUILD_A fills
# it, so with an older build as A both can read it), stops that server, then per round starts each build on a copy
# of the directory, waits for recovery, and times three checkpoints: 1 also folds the replayed log in; 2 is a
# snapshot of the same state; 3 follows 10,000 more records (what a checkpoint after ~15 MB of log costs).
# Builds with row chunk files (277f29c on) write in 1 every chunk (the seed's vectors are inline), in 2 none and
# in 3 only the ~10 changed; older builds write the whole store each time.
# lynxd's CPU comes from /proc/PID/stat (user + system ticks) around each `POST /checkpoint`; "written_mb" is what
# the data directory's snapshot and row chunk files grew by, written anew (by modification time).
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
records=${1:-250000}; rounds=${2:-3}; build_a=${3:-.build/release/lynxd}; build_b=${4:-$build_a}
[ -x "$build_a" ] && [ -x "$build_b" ] || { echo "missing build: $build_a or $build_b" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 1; }

base=$(mktemp -d "$BENCH_TMP/lynx-ckpt-XXXXXX"); _LYNX_DIRS+=("$base")
trap cleanup_all EXIT
BIN=$build_a start_lynxd fill "$base/seed" --dimension 384 --index flat
python3 - "$fill_url" "$records" <<'PY'
import random, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
pool = ["[" + ",".join("%.6f" % rng.uniform(-1, 1) for _ in range(384)) + "]" for _ in range(997)]
for start in range(0, n, 1000):
    body = '{"vectors":[' + ",".join('{"id":%d,"vector":%s}' % (i, pool[i % 997]) for i in range(start, min(n, start + 1000))) + "]}"
    req = urllib.request.Request(url + "/vectors", body.encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
curl -sf -XPOST "$fill_url/checkpoint" >/dev/null
kill "$fill_pid"; wait "$fill_pid" 2>/dev/null || true
env_line "$base"
echo "# $records records; seed snapshot and row chunks $(du -cm "$base"/seed/snapshot-*.lsnap "$base"/seed/rows 2>/dev/null | tail -1 | cut -f1) MB; A=$build_a B=$build_b"
more() {  # more RECORDS_FROM URL: 10,000 records with fresh ids
python3 - "$2" "$1" <<'PY'
import random, sys, urllib.request
url, first = sys.argv[1], int(sys.argv[2])
rng = random.Random(2)
for start in range(first, first + 10000, 1000):
    body = '{"vectors":[' + ",".join('{"id":%d,"vector":[%s]}' % (i, ",".join("%.6f" % rng.uniform(-1, 1) for _ in range(384))) for i in range(start, start + 1000)) + "]}"
    urllib.request.urlopen(urllib.request.Request(url + "/vectors", body.encode(), {"Content-Type": "application/json"})).read()
PY
}
# MB of files in the data directory (snapshots, row chunks) modified after the marker file.
written_mb() { find "$1" \( -name 'snapshot-*.lsnap' -o -name '*.lrows' \) -newer "$2" -printf '%s\n' | awk '{s+=$1} END {printf "%.1f", s/1048576}'; }

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
for r in $(seq "$rounds"); do
  for which in A B; do
    bin=$build_a; [ "$which" = B ] && bin=$build_b
    rm -rf "$base/run"; cp -r "$base/seed" "$base/run"
    BIN=$bin start_lynxd srv "$base/run" --dimension 384 --index flat
    for k in 1 2 3; do
      [ "$k" = 3 ] && more "$records" "$srv_url"
      touch "$base/marker"; sleep 0.01
      c0=$(ticks "$srv_pid"); t0=$(now)
      curl -sf -XPOST "$srv_url/checkpoint" >/dev/null
      t1=$(now); c1=$(ticks "$srv_pid")
      python3 -c "print('{\"round\": $r, \"build\": \"$which\", \"checkpoint\": $k, \"cpu_s\": %.2f, \"wall_s\": %.2f, \"written_mb\": $(written_mb "$base/run" "$base/marker")}' % (($c1-$c0)/100, $t1-$t0))"
    done
    kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
  done
done

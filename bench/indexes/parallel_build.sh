#!/usr/bin/env bash
# Parallel HNSW construction: Lynx (lynx-bench, 1 thread and insertParallel on 2 threads) against hnswlib's
# add_items (1 and 2 threads) on the same vectors, M=16, ef_construction=200, in alternating rounds.
#
# Usage: bench/indexes/parallel_build.sh [ROUNDS] [DATA_DIR]
#   ROUNDS defaults to 2; DATA_DIR to ../shared/data/dev (relative to the repository root).
#   PEERS_VENV (default /tmp/peers-venv) gets numpy and hnswlib from PyPI when they are missing.
#   BUILD_BATCH (default 32) is lynx-bench's --build-batch.
# Each round runs lynx 1t, lynx 2t, hnswlib 2t, hnswlib 1t (the order turns round by round), and prints each
# build's seconds (wall clock, and CPU time of all threads) and recall@10 at every ef, and the ratio
# Lynx-2t / hnswlib-2t of that round. The machine may be shared: the load average before each build is printed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-2}"
DATA="${2:-../shared/data/dev}"
VENV="${PEERS_VENV:-/tmp/peers-venv}"
EFS="${EF_SEARCH:-16,32,64,128,256}"
BATCH="${BUILD_BATCH:-32}"
OUT="$(mktemp -d /tmp/lynx-parallel-build.XXXXXX)"

[ -f "$DATA/meta.json" ] || { echo "no data set at $DATA" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import hnswlib, numpy' 2>/dev/null; then
  echo "== creating $VENV (numpy hnswlib from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy hnswlib
fi
echo "== building lynx-bench (release)"
swift build -c release --product lynx-bench --scratch-path .build 2>&1 | tail -1
BENCH="$ROOT/.build/release/lynx-bench"
echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), hnswlib $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("hnswlib"))'), commit $(git rev-parse --short HEAD)"

run() {  # name threads round
  local f="$OUT/$1-$2t-r$3.jsonl"
  if [ "$1" = lynx ]; then
    "$BENCH" --data "$DATA" --index hnsw --metric l2 --m 16 --ef-construction 200 --ef-search "$EFS" --reps 1 \
      --threads "$2" --build-batch "$BATCH" > "$f"
  else
    "$VENV/bin/python" bench/indexes/hnswlib_build.py "$DATA" "$2" "$EFS" > "$f"
  fi
  python3 - "$f" "$1" "$2" "$3" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"round {sys.argv[4]} {sys.argv[2]:8s} {sys.argv[3]}t: build {rows[0]['build_seconds']:.2f} s (CPU {rows[0]['build_cpu_seconds']:.2f} s)  recall@10 "
      + " ".join(f"{r['ef_search']}:{r['recall_at_10']:.4f}" for r in rows) + f"  (load before {rows[0]['loadavg_before_build']})")
PY
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="lynx:1 lynx:2 hnswlib:2 hnswlib:1"; else order="hnswlib:1 hnswlib:2 lynx:2 lynx:1"; fi
  for job in $order; do run "${job%%:*}" "${job##*:}" "$round"; done
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, sys, os, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
def rows(name, t, r): return [json.loads(l) for l in open(os.path.join(out, f"{name}-{t}t-r{r}.jsonl")) if l.startswith("{")]
print("== summary (build seconds per round; recall@10 of the last round)")
for r in range(1, rounds + 1):
    l2, h2 = rows("lynx", 2, r)[0]["build_seconds"], rows("hnswlib", 2, r)[0]["build_seconds"]
    l1, h1 = rows("lynx", 1, r)[0]["build_seconds"], rows("hnswlib", 1, r)[0]["build_seconds"]
    c2, hc2 = rows("lynx", 2, r)[0]["build_cpu_seconds"], rows("hnswlib", 2, r)[0]["build_cpu_seconds"]
    print(f"round {r}: lynx 1t {l1:.2f}  lynx 2t {l2:.2f}  hnswlib 1t {h1:.2f}  hnswlib 2t {h2:.2f}  "
          f"lynx-2t / hnswlib-2t {l2 / h2:.3f} (CPU time {c2 / hc2:.3f})  "
          f"lynx 2t speed-up {l1 / l2:.2f}  hnswlib 2t speed-up {h1 / h2:.2f}")
for name, t in (("lynx", 1), ("lynx", 2), ("hnswlib", 1), ("hnswlib", 2)):
    rec = {x["ef_search"]: x["recall_at_10"] for x in rows(name, t, rounds)}
    print(f"recall@10 {name:8s} {t}t: " + " ".join(f"ef {e}: {v:.4f}" for e, v in sorted(rec.items())))
d = [rows("lynx", 2, r)[i]["recall_at_10"] - rows("lynx", 1, r)[i]["recall_at_10"]
     for r in range(1, rounds + 1) for i in range(len(rows("lynx", 1, r)))]
print(f"lynx 2t - 1t recall@10, largest |difference| over every ef and round: {max(map(abs, d)):.4f}")
print(f"(raw JSON lines in {out})")
PY

#!/usr/bin/env bash
# Lynx IVF (spill 1, the default, and spill 0 = plain IVF-Flat) vs FAISS IndexIVFFlat, in one invocation.
#
# Usage: bench/indexes/ivf_vs_faiss.sh [DATA_DIR] [OUT_DIR]
#   DATA_DIR defaults to ../shared/data/dev (relative to the repository root); OUT_DIR to /tmp/lynx-ivf-faiss.
#   PEERS_VENV (default /tmp/peers-venv) is created with faiss-cpu and numpy from PyPI when missing.
#   ROUNDS (default 3) alternating rounds; N_PROBE (default 1,2,4,8,16,32,64) for Lynx; FAISS_N_PROBE (default
#   the same plus 96,141, so that FAISS's curve reaches the recall Lynx gets with spill) for FAISS.
#   SUMMARY_ONLY=1 re-prints the summary of the results already in OUT_DIR.
# Every index is built once (n_clusters = 141 = √n, trained on the whole base set) and saved; then each round runs
# lynx spill 1, FAISS, lynx spill 0 one after another per metric (search only, one thread, one query per call),
# and prints the load average with every line. The summary takes the median queries/s of the rounds and compares
# at equal recall@10: FAISS's queries/s interpolated linearly between its two n_probe points that bracket Lynx's
# recall (never extrapolated), and the other way round at FAISS's points.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DATA="${1:-../shared/data/dev}"
OUT="${2:-/tmp/lynx-ivf-faiss}"
VENV="${PEERS_VENV:-/tmp/peers-venv}"
ROUNDS="${ROUNDS:-3}"
NPROBE="${N_PROBE:-1,2,4,8,16,32,64}"
FAISS_NPROBE="${FAISS_N_PROBE:-$NPROBE,96,141}"
CLUSTERS=141
mkdir -p "$OUT"

[ -f "$DATA/meta.json" ] || { echo "no data set at $DATA" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import faiss, numpy' 2>/dev/null; then
  echo "== creating $VENV (numpy faiss-cpu from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy faiss-cpu
fi

if [ "${SUMMARY_ONLY:-0}" != 1 ]; then
echo "== building lynx-bench (release)"
swift build -c release --product lynx-bench --scratch-path .build 2>&1 | tail -1
BENCH="$ROOT/.build/release/lynx-bench"
FAISS="$VENV/bin/python bench/indexes/faiss_ivf.py"
# one short line per result: system, metric, n_probe, recall, queries/s (wall, thread CPU), load
short() {
  python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["system"], r["metric"], "n_probe", r["n_probe"], "recall", r["recall_at_10"], "qps", round(r["qps"]),
          "cpu", round(r["qps_cpu"]), "load", r["loadavg"], flush=True)'
}

echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
echo "== building and saving the indexes (build lines in $OUT/build.jsonl)"
: > "$OUT/build.jsonl"
for metric in l2 cosine; do
  for spill in 1 0; do
    "$BENCH" --data "$DATA" --index ivf --metric "$metric" --n-clusters $CLUSTERS --spill $spill --n-probe 16 --reps 1 \
      --save "$OUT/lynx-$metric-spill$spill.idx" | tee -a "$OUT/build.jsonl" | cut -c1-200
  done
  rm -f "$OUT/faiss-$metric.idx"
  $FAISS "$DATA" "$metric" $CLUSTERS "$OUT/faiss-$metric.idx" 16 1 | tee -a "$OUT/build.jsonl"
done

: > "$OUT/rounds.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for metric in l2 cosine; do
    echo "== round $round, $metric (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" --data "$DATA" --index ivf --metric "$metric" --load "$OUT/lynx-$metric-spill1.idx" --n-probe "$NPROBE" --reps 3 \
      | sed "s/^{/{\"round\": $round, \"system\": \"lynx_spill1\", /" | tee -a "$OUT/rounds.jsonl" | short
    $FAISS "$DATA" "$metric" $CLUSTERS "$OUT/faiss-$metric.idx" "$FAISS_NPROBE" 3 \
      | sed "s/^{/{\"round\": $round, \"system\": \"faiss\", /" | tee -a "$OUT/rounds.jsonl" | short
    "$BENCH" --data "$DATA" --index ivf --metric "$metric" --load "$OUT/lynx-$metric-spill0.idx" --n-probe "$NPROBE" --reps 3 \
      | sed "s/^{/{\"round\": $round, \"system\": \"lynx_spill0\", /" | tee -a "$OUT/rounds.jsonl" | short
  done
done
fi

python3 - "$OUT" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "rounds.jsonl")) if l.startswith("{")]

def curve(system, metric):
    """[(n_probe, recall, median qps, median cpu qps)] over the rounds."""
    pts = {}
    for r in rows:
        if r["system"] == system and r["metric"] == metric:
            pts.setdefault(r["n_probe"], []).append(r)
    return [(p, rs[0]["recall_at_10"], statistics.median(x["qps"] for x in rs),
             statistics.median(x["qps_cpu"] for x in rs)) for p, rs in sorted(pts.items())]

def interp(c, recall, col):
    """qps (col 2) or cpu qps (col 3) of curve c at `recall`, linear between the bracketing points; None outside."""
    pts = sorted((p[1], p[col]) for p in c)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= recall <= r1:
            return q0 if r1 == r0 else q0 + (q1 - q0) * (recall - r0) / (r1 - r0)
    return None

loads = [r["loadavg"] for r in rows]
print(f"\n== summary: {len(set(r['round'] for r in rows))} rounds, load average (1/5/15 min) from {loads[0]} to {loads[-1]}")
for metric in ("l2", "cosine"):
    faiss = curve("faiss", metric)
    print(f"\n-- {metric}: FAISS IndexIVFFlat, nlist {141}, one query per call, 1 thread (median of the rounds)")
    print(f"{'n_probe':>7} {'recall':>7} {'qps':>9} {'cpu qps':>9}")
    for p, rec, q, qc in faiss: print(f"{p:>7} {rec:>7.4f} {q:>9.0f} {qc:>9.0f}")
    for system in ("lynx_spill1", "lynx_spill0"):
        print(f"-- {metric}: {system} vs FAISS at equal recall@10 (FAISS interpolated between its bracketing n_probe)")
        print(f"{'n_probe':>7} {'recall':>7} {'lynx qps':>9} {'faiss qps':>9} {'ratio':>6} {'ratio cpu':>9}")
        for p, rec, q, qc in curve(system, metric):
            fq, fc = interp(faiss, rec, 2), interp(faiss, rec, 3)
            if fq is None:
                print(f"{p:>7} {rec:>7.4f} {q:>9.0f} {'(below FAISS n_probe 1)':>26}")
            else:
                print(f"{p:>7} {rec:>7.4f} {q:>9.0f} {fq:>9.0f} {q / fq:>6.2f} {qc / fc:>9.2f}")
    print(f"-- {metric}: at FAISS's points, Lynx interpolated between its bracketing n_probe")
    print(f"{'faiss n_probe':>13} {'recall':>7} {'faiss qps':>9} {'spill1 qps':>10} {'ratio':>6} {'spill0 qps':>10} {'ratio':>6}")
    for p, rec, q, qc in faiss:
        row = f"{p:>13} {rec:>7.4f} {q:>9.0f}"
        for system in ("lynx_spill1", "lynx_spill0"):
            lq = interp(curve(system, metric), rec, 2)
            row += f" {lq:>10.0f} {lq / q:>6.2f}" if lq else f" {'(outside)':>10} {'':>6}"
        print(row)
builds = [json.loads(l) for l in open(os.path.join(out, "build.jsonl")) if l.startswith("{")]
print("\n== build (train + fill, 1 thread), memory")
for b in builds:
    if b.get("lib") == "faiss_ivf" and "build_seconds" in b:
        print(f"faiss {b['metric']}: {b['build_seconds']} s")
    elif b.get("index") == "ivf":
        print(f"lynx {b['metric']} spill {b['spill']}: {b['build_seconds']:.2f} s, vectors {b['vector_bytes']} B, "
              f"index {b['index_bytes']} B, serialized {b['serialized_bytes']} B, spilled copies {b['spilled_count']}")
PY
echo "== done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg); raw results in $OUT"

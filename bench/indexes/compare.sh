#!/usr/bin/env bash
# Lynx HNSW/Flat vs hnswlib, FAISS and usearch on the same data set, in one invocation.
#
# Usage: bench/indexes/compare.sh [DATA_DIR] [OUT_DIR]
#   DATA_DIR defaults to ../shared/data/dev (relative to the repository root); OUT_DIR to /tmp/lynx-index-compare.
#   PEERS_VENV (default /tmp/peers-venv) is created with the peer libraries from PyPI when missing.
# Order: lynx-bench, peers (bench_indexes.py), lynx-bench again (the machines are shared; the two Lynx runs bracket
# the peers' run and are averaged). Prints the load average beside each run and the ratios at equal recall@10.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DATA="${1:-../shared/data/dev}"
OUT="${2:-/tmp/lynx-index-compare}"
PEERS="../shared/bench/peers/bench_indexes.py"
VENV="${PEERS_VENV:-/tmp/peers-venv}"
EFS="${EF_SEARCH:-16,32,64,128,256}"
mkdir -p "$OUT"

[ -f "$DATA/meta.json" ] || { echo "no data set at $DATA" >&2; exit 2; }
[ -f "$PEERS" ] || { echo "peer script not found at $PEERS" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import hnswlib, faiss, usearch, numpy, psutil' 2>/dev/null; then
  echo "== creating $VENV (numpy hnswlib faiss-cpu usearch psutil from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy hnswlib faiss-cpu usearch psutil
fi

echo "== building lynx-bench (release)"
swift build -c release --product lynx-bench --scratch-path .build 2>&1 | tail -1
BENCH="$ROOT/.build/release/lynx-bench"

echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== lynx run 1"
"$BENCH" --data "$DATA" --index hnsw --metric l2 --m 16 --ef-construction 200 --ef-search "$EFS" --kernels | tee "$OUT/lynx1.jsonl"
"$BENCH" --data "$DATA" --index flat --metric l2 --batch | tee -a "$OUT/lynx1.jsonl"
echo "== peers (load $(cut -d' ' -f1-3 /proc/loadavg))"
"$VENV/bin/python" "$PEERS" --data "$DATA" --out "$OUT/peers.json"
echo "== lynx run 2 (load $(cut -d' ' -f1-3 /proc/loadavg))"
"$BENCH" --data "$DATA" --index hnsw --metric l2 --m 16 --ef-construction 200 --ef-search "$EFS" | tee "$OUT/lynx2.jsonl"
"$BENCH" --data "$DATA" --index flat --metric l2 --batch | tee -a "$OUT/lynx2.jsonl"

echo "== alternating search-only rounds (same saved graphs, load in each line): lynx vs hnswlib"
"$BENCH" --data "$DATA" --index hnsw --metric l2 --ef-search 16 --reps 1 --save "$OUT/lynx.idx" > /dev/null
"$VENV/bin/python" bench/indexes/hnswlib_ab.py "$DATA" "$OUT/hnswlib.bin" 16 > /dev/null
: > "$OUT/ab.jsonl"
for round in 1 2 3 4 5; do
  "$BENCH" --data "$DATA" --load "$OUT/lynx.idx" --ef-search "$EFS" --reps 5 | tee -a "$OUT/ab.jsonl" | cut -c1-160
  "$VENV/bin/python" bench/indexes/hnswlib_ab.py "$DATA" "$OUT/hnswlib.bin" "$EFS" | tee -a "$OUT/ab.jsonl"
done

python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def lines(p): return [json.loads(l) for l in open(p) if l.startswith("{")]
runs = [lines(os.path.join(out, f)) for f in ("lynx1.jsonl", "lynx2.jsonl")]
lynx = {}
for run in runs:
    for r in run:
        if r.get("index") == "hnsw":
            lynx.setdefault(r["ef_search"], []).append(r)
flat = [r for run in runs for r in run if r.get("index") == "flat"]
peers = json.load(open(os.path.join(out, "peers.json")))["results"]

def interp(curve, recall):
    """qps of a peer at `recall`, linear between its ef points; None outside its range."""
    pts = sorted((p["recall@10"], p["qps_batch_1t"]) for p in curve)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= recall <= r1:
            return q0 if r1 == r0 else q0 + (q1 - q0) * (recall - r0) / (r1 - r0)
    return None

print("\n== Lynx HNSW (mean of the two runs) vs peers at equal recall@10 (peer QPS interpolated; batch, 1 thread)")
hdr = f"{'ef':>4} {'recall':>7} {'lynx qps':>9}"
libs = [p for p in peers if "search" in p and p["lib"] != "faiss_flat" and p["build_threads"] == 1]
for p in libs: hdr += f" {p['lib']+' qps':>16} {'ratio':>6}"
print(hdr)
for ef in sorted(lynx):
    rs = lynx[ef]
    rec = sum(r["recall_at_10"] for r in rs) / len(rs)
    qps = sum(r["qps"] for r in rs) / len(rs)
    row = f"{ef:>4} {rec:>7.4f} {qps:>9.0f}"
    for p in libs:
        q = interp(p["search"], rec)
        row += f" {q:>16.0f} {qps / q:>6.2f}" if q else f" {'(out of range)':>16} {'':>6}"
    print(row)
print("\n== build (1 thread), seconds")
print(f"lynx hnsw: {', '.join(f'{b:.1f}' for b in sorted(set(r['build_seconds'] for rs in lynx.values() for r in rs)))}")
for p in peers:
    if "build_s" in p:
        print(f"{p['lib']} (build_threads={p['build_threads']}): {p['build_s']}  rss_after_build_mb={p.get('rss_after_build_mb')}")
print("\n== exact search, 1 thread: all queries in one call (batch) and one query per call (loop)")
for r in flat:
    print(f"lynx flat: {r['qps_batch']:.0f} qps batch ({r['batch_rescans']} rescans, equal to loop: "
          f"{r['batch_equals_loop']}), {r['qps']:.0f} qps loop")
faiss_flat = [p["search"][0] for p in peers if p["lib"] == "faiss_flat" and "search" in p]
for s in faiss_flat:
    print(f"faiss IndexFlatL2: {s['qps_batch_1t']:.0f} qps batch, {s['qps_loop_1t']:.0f} qps loop")
if flat and faiss_flat:
    s = faiss_flat[0]
    batch = sum(r["qps_batch"] for r in flat) / len(flat)
    loop = sum(r["qps"] for r in flat) / len(flat)
    print(f"Flat: lynx batch / faiss batch = {batch / s['qps_batch_1t']:.2f}, "
          f"lynx loop / faiss loop = {loop / s['qps_loop_1t']:.2f} (lynx: mean of the two runs)")
mem = [r for run in runs for r in run if r.get("index") == "hnsw"]
if mem: print(f"\n== memory: lynx hnsw {mem[0]['memory_bytes']} bytes (estimate from capacities; vectors {mem[0]['vector_bytes']})")

import statistics
ab = [json.loads(l) for l in open(os.path.join(out, "ab.jsonl")) if l.startswith("{")]
print("\n== alternating A/B (5 rounds each, median): lynx / hnswlib queries/s on the same machine state")
print(f"{'ef':>4} {'lynx recall':>11} {'hnswlib recall':>14} {'lynx qps':>9} {'hnswlib qps':>11} {'ratio':>6} {'ratio cpu-time':>14}")
for ef in sorted({r["ef_search"] for r in ab if "ef_search" in r}):
    L = [r for r in ab if r.get("index") == "hnsw" and r["ef_search"] == ef]
    H = [r for r in ab if r.get("lib") == "hnswlib" and r.get("ef_search") == ef]
    if not L or not H: continue
    lq, hq = statistics.median(r["qps"] for r in L), statistics.median(r["qps"] for r in H)
    lc, hc = statistics.median(r["qps_cpu"] for r in L), statistics.median(r["qps_cpu"] for r in H)
    print(f"{ef:>4} {L[0]['recall_at_10']:>11.4f} {H[0]['recall_at_10']:>14.4f} {lq:>9.0f} {hq:>11.0f} {lq / hq:>6.2f} {lc / hc:>14.2f}")
PY
echo "== done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg); raw results in $OUT"

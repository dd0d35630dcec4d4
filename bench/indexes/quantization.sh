#!/usr/bin/env bash
# Lynx HNSW without codes, with sq8 and with rabitq:1/2/4/8 codes against hnswlib and FAISS's HNSW variants (flat,
# SQ8, RaBitQ + exact refine), in one invocation: each index is built once and saved, then ROUNDS alternating
# search-only rounds run every one of them in turn on the same queries (one thread, M=16, ef_construction=200, L2).
# Prints every index's recall/q/s curve, per index the median q/s at the smallest ef reaching recall@10 >= 0.95 and
# each one's ratio to Lynx sq8, then the issue's three ratios for the best Lynx setting.
#
# Usage: bench/indexes/quantization.sh [DATA_DIR] [OUT_DIR] [ROUNDS]
#   DATA_DIR defaults to ../shared/data/dev; OUT_DIR to /tmp/lynx-quantization; ROUNDS to 3.
#   PEERS_VENV (default /tmp/peers-venv) is created with numpy hnswlib faiss-cpu from PyPI when missing.
#   LYNX_VARIANTS (default "none sq8 rabitq:1 rabitq:2 rabitq:4 rabitq:8"): the Lynx settings (--quantization).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DATA="${1:-../shared/data/dev}"
OUT="${2:-/tmp/lynx-quantization}"
ROUNDS="${3:-3}"
VENV="${PEERS_VENV:-/tmp/peers-venv}"
EFS="${EF_SEARCH:-16,24,32,48,64,96,128}"
VARIANTS="${LYNX_VARIANTS:-none sq8 rabitq:1 rabitq:2 rabitq:4 rabitq:8}"
mkdir -p "$OUT"
[ -f "$DATA/meta.json" ] || { echo "no data set at $DATA" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import hnswlib, faiss, numpy' 2>/dev/null; then
  echo "== creating $VENV (numpy hnswlib faiss-cpu from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy hnswlib faiss-cpu
fi
swift build -c release --product lynx-bench 2>&1 | tail -1
BENCH="$ROOT/.build/release/lynx-bench"
PY="$VENV/bin/python"

echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg): building and saving each index"
for q in $VARIANTS; do
  f="${q/:/}"
  [ -f "$OUT/lynx-$f.idx" ] || "$BENCH" --data "$DATA" --metric l2 --quantization "$q" --ef-search 64 --reps 1 --save "$OUT/lynx-$f.idx" | tee "$OUT/build-lynx-$f.jsonl" | cut -c1-200
done
"$PY" bench/indexes/hnswlib_ab.py "$DATA" "$OUT/hnswlib.bin" 64 > /dev/null
for v in flat sq8 rabitq; do "$PY" bench/indexes/faiss_hnsw_variants.py "$DATA" "$OUT" "$v" 64 1 > /dev/null; done

: > "$OUT/rounds.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round (load $(cut -d' ' -f1-3 /proc/loadavg))"
  for q in $VARIANTS; do
    "$BENCH" --data "$DATA" --load "$OUT/lynx-${q/:/}.idx" --ef-search "$EFS" --reps 5 | sed "s/^{/{\"lib\": \"lynx\", \"variant\": \"$q\", /" >> "$OUT/rounds.jsonl"
  done
  "$PY" bench/indexes/hnswlib_ab.py "$DATA" "$OUT/hnswlib.bin" "$EFS" | sed 's/^{/{"variant": "flat", /' >> "$OUT/rounds.jsonl"
  for v in flat sq8 rabitq; do "$PY" bench/indexes/faiss_hnsw_variants.py "$DATA" "$OUT" "$v" "$EFS" >> "$OUT/rounds.jsonl"; done
done

"$PY" - "$OUT/rounds.jsonl" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    lib = r.get("lib") or "hnswlib"
    by.setdefault((lib, r["variant"]), {}).setdefault(r["ef_search"], []).append(r)
print(f"{'index':<18} {'ef':>4} {'recall@10':>9} {'q/s (median)':>13} {'q/s per CPU s':>14}  per-round q/s")
best = {}
for key, per_ef in sorted(by.items()):
    for ef in sorted(per_ef):
        rs = per_ef[ef]
        recall = statistics.median(r["recall_at_10"] for r in rs)
        if recall >= 0.95:
            best[key] = (ef, recall, statistics.median(r["qps"] for r in rs), statistics.median(r["qps_cpu"] for r in rs),
                         [round(r["qps"]) for r in rs])
            break
    for ef in sorted(per_ef):
        rs = per_ef[ef]
        print(f"{key[0] + ' ' + key[1]:<18} {ef:>4} {statistics.median(r['recall_at_10'] for r in rs):>9.4f} "
              f"{statistics.median(r['qps'] for r in rs):>13.0f} {statistics.median(r['qps_cpu'] for r in rs):>14.0f}  "
              f"{[round(r['qps']) for r in rs]}")
ref = best.get(("lynx", "sq8"))
print("\nat the smallest ef reaching recall@10 >= 0.95 (ratio = Lynx sq8 / that index, by q/s and by q/s per CPU s):")
for key, (ef, recall, qps, cpu, per_round) in sorted(best.items()):
    ratio = f"{ref[2] / qps:.2f}x, {ref[3] / cpu:.2f}x" if ref else "-"
    print(f"  {key[0] + ' ' + key[1]:<18} ef {ef:>4}  recall {recall:.4f}  q/s {qps:>7.0f}  per CPU s {cpu:>7.0f}  Lynx sq8 is {ratio}")
lynx = {k: v for k, v in best.items() if k[0] == "lynx"}
peers = {"hnswlib": best.get(("hnswlib", "flat"), (0, 0, None))[2],
         "best FAISS": max((v[2] for k, v in best.items() if k[0] == "faiss"), default=None),
         "Lynx none": best.get(("lynx", "none"), (0, 0, None))[2]}
def ratios(qps):
    return ", ".join(f"{qps / other:.2f}x {name}" if other else f"- {name} (never reached 0.95)" for name, other in peers.items())
print("\nthe issue's targets: 2x hnswlib, 1.3x best FAISS, 1.5x Lynx none (q/s at recall@10 >= 0.95)")
for k in sorted(lynx, key=lambda k: -lynx[k][2]):
    print(f"  lynx {k[1]:<10} {lynx[k][2]:>7.0f} q/s: {ratios(lynx[k][2])}")
for k in sorted(by):
    if k[0] == "lynx" and k not in lynx:
        print(f"  lynx {k[1]:<10} never reached recall@10 0.95 (best {max(statistics.median(r['recall_at_10'] for r in rs) for rs in by[k].values()):.4f})")
PY

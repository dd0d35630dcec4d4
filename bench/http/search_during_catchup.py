#!/usr/bin/env python3
"""Search latency and recall while the HNSW builder catches up (records acknowledged but not yet linked are
scanned exactly beside the graph) vs a fully linked store, in one run.

Single-query POST /search (k=10, ef_search 64) over one keep-alive connection, dev queries one at a time;
p50 / p99 latency and recall@10 in three states:
  (a) 0 pending: a fully linked 20,000-record store (500 queries).
  (b) ~5,000 pending: load ids 0-14,999 (dev base), wait until pending 0, POST /checkpoint, load ids
      15,000-19,999, wait until pending 0, SIGKILL, restart: right after the first /health 200 the 5,000 logged
      records are replayed into the pending tail. Measured in windows of WINDOW queries (default 300) from the
      first 200 on; pending is read from /health at the start and end of each window. (a) is measured on this
      store right before the SIGKILL.
  (c) ~40,000 pending: a store with ids 0-19,999 = dev base and 20,000-39,999 = base * -1, all in the log
      (--checkpoint-wal-bytes 4 GiB, --checkpoint-interval 86400), SIGKILL, restart; windows as in (b).
  After each catch-up (pending 0) the same 500 queries are run again on the linked store: the "built"
  baseline of that state. Recall: (a), (b) against gt_l2's first 10; (c) against the exact top-10 of the 40k
  set computed here with numpy (float64 brute-force L2, ties to the lower id; its 20k variant is checked
  against gt_l2 first). Goal: every catch-up window's recall >= the built store's recall on the same queries
  minus 0.005.
Windows cycle through the 500 queries (window 1 = queries 0..W-1, window 2 = W.., wrapping) until pending is 0
or MAX_WINDOWS (default 8) windows have run. With IDLE=1 (default) each search window is followed by an idle
window of the same length (no searches, /health read at both ends), so the builder's linking rate (pending
drop per second) is compared with and without a searcher, alternating, in the same catch-up. One JSON line per measurement, then a summary.

  bench/http/search_during_catchup.sh [WINDOW=300] [MAX_WINDOWS=8] [IDLE=1]   (wrapper; /tmp/peers-venv/bin/python)
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pending_lib as L  # noqa: E402

np = L.np
W = int(sys.argv[1]) if len(sys.argv) > 1 else 300
MAXW = int(sys.argv[2]) if len(sys.argv) > 2 else 8
IDLE = int(sys.argv[3]) if len(sys.argv) > 3 else 1
FLAGS = ["--index", "hnsw", "--dimension", "384", "--checkpoint-wal-bytes", "4294967296",
         "--checkpoint-interval", "86400"]
base, q, gt = L.load_dev()
n, nq = len(base), len(q)
print(L.env_line(f"window={W} max_windows={MAXW} idle={IDLE}"), flush=True)

t = time.perf_counter()
rows = L.encode_rows(base)
neg = [",".join(tok[1:] if tok[0] == "-" else "-" + tok for tok in r.split(",")) for r in rows]
assert np.array([float(x) for x in neg[3].split(",")], dtype=np.float32).tobytes() == (-base[3]).tobytes()
b_first15 = L.batch_bodies(rows[:15000], 0, 100)
b_last5 = L.batch_bodies(rows[15000:], 15000, 100)
b_40k = L.batch_bodies(rows + neg, 0, 100)
qb = L.search_bodies(L.encode_rows(q), 10, 64)
print(f"# encoded bodies in {time.perf_counter() - t:.1f} s", flush=True)

t = time.perf_counter()
X = np.concatenate([base, -base])
gt40 = L.exact_l2_topk(q, X, 10)
gt20 = L.exact_l2_topk(q, base, 10)
agree20 = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(gt20, gt[:, :10])]))
agree40 = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(gt40, gt[:, :10])]))
print(json.dumps({"step": "ground_truth", "seconds": round(time.perf_counter() - t, 2),
                  "numpy_20k_top10_vs_gt_l2": round(agree20, 5), "numpy_40k_top10_vs_gt_l2": round(agree40, 5),
                  "gt40_ids_from_negated_half": int((gt40 >= n).sum())}), flush=True)
assert agree20 > 0.999, "numpy ground truth disagrees with gt_l2"


def per_query_recall(found, gtrows):
    return [len(set(f[:10]) & set(int(x) for x in g[:10])) / 10 for f, g in zip(found, gtrows)]


def measure(s, state, idx, gtrows, extra=None, show=True):
    st0, h0 = s.health()
    t0 = time.perf_counter()
    lat, found = L.run_queries(s.port, qb, idx)
    t1 = time.perf_counter()
    st1, h1 = s.health()
    pq = per_query_recall(found, [gtrows[i] for i in idx])
    out = {"state": state, "queries": len(idx), "first_query": idx[0], "window_s": round(t1 - t0, 3),
           "pending_start": h0["linking"]["pending"], "pending_end": h1["linking"]["pending"],
           "p50_ms": round(1e3 * L.pct(lat, 50), 3), "p99_ms": round(1e3 * L.pct(lat, 99), 3),
           "recall_at_10": round(sum(pq) / len(pq), 4), "loadavg": L.loadavg()}
    if extra:
        out.update(extra)
    if show:
        print(json.dumps(out), flush=True)
    return out, pq


def catchup(s, state, gtrows):
    """Windows right after the first /health 200, until pending 0 (or MAXW); then the built baseline."""
    wins, idles = [], []
    k = 0
    while len(wins) < MAXW:
        idx = [(k + i) % nq for i in range(W)]
        k += W
        out, pq = measure(s, state, idx, gtrows, {"window": len(wins) + 1,
                                                  "s_since_exec": round(time.perf_counter() - s.t_exec, 3)},
                          show=False)
        out["linked_per_s"] = round((out["pending_start"] - out["pending_end"]) / out["window_s"])
        print(json.dumps(out), flush=True)
        wins.append((out, idx, pq))
        if out["pending_end"] == 0:
            break
        if IDLE:  # an idle window as long as the search window: the builder's rate without a searcher
            _, h0 = s.health()
            t0 = time.perf_counter()
            time.sleep(min(out["window_s"], 10))
            dt = time.perf_counter() - t0
            _, h1 = s.health()
            idl = {"state": state, "idle_after_window": out["window"], "idle_s": round(dt, 3),
                   "pending_start": h0["linking"]["pending"], "pending_end": h1["linking"]["pending"],
                   "linked_per_s": round((h0["linking"]["pending"] - h1["linking"]["pending"]) / dt),
                   "loadavg": L.loadavg()}
            print(json.dumps(idl), flush=True)
            idles.append(idl)
            if idl["pending_end"] == 0:
                break
    tz, h, _ = s.wait_pending_zero(s.t_exec, poll=0.01)
    print(json.dumps({"state": state, "step": "pending_0", "exec_to_pending_0_s": round(tz, 3), "count": h["count"],
                      "linked_total": h["linking"]["linked_total"]}), flush=True)
    built, bpq = measure(s, state + "_built_after_catchup", list(range(nq)), gtrows)
    res = []
    for out, idx, pq in wins:
        bref = sum(bpq[i] for i in idx) / len(idx)
        d = {"state": state, "window": out["window"], "pending_start": out["pending_start"],
             "pending_end": out["pending_end"], "recall_window": out["recall_at_10"],
             "recall_built_same_queries": round(bref, 4), "diff": round(out["recall_at_10"] - bref, 4),
             "goal_ge_built_minus_0.005": out["recall_at_10"] >= bref - 0.005,
             "p50_over_built_p50": round(out["p50_ms"] / built["p50_ms"], 3),
             "p99_over_built_p99": round(out["p99_ms"] / built["p99_ms"], 3)}
        print(json.dumps(d), flush=True)
        res.append(d)
    rates = {}
    if idles:
        ws = statistics.median(o["linked_per_s"] for o, _, _ in wins[:len(idles)])
        wi = statistics.median(i["linked_per_s"] for i in idles)
        rates = {"builder_linked_per_s_while_searching": round(ws), "builder_linked_per_s_idle": round(wi),
                 "searching_over_idle": round(ws / wi, 3) if wi else None}
        print(json.dumps(dict({"state": state, "step": "builder_rate_search_vs_idle_windows (medians)"}, **rates)),
              flush=True)
    return wins, built, res, rates


summary = {"summary": "search during catch-up vs linked (k=10, ef_search 64, 1 connection)", "window": W}
# ---- (a) and (b)
d = L.scratch_dir("lynx-catchup-b-")
s = L.Lynxd(d, FLAGS)
try:
    s.start(); s.wait_ready()
    L.load_batches(s.port, b_first15, conns=4)
    s.wait_pending_zero(time.perf_counter(), count=15000, poll=0.02)
    c = L.conn(s.port, 120)
    st, body = L.call(c, "POST", "/checkpoint")
    c.close()
    print(json.dumps({"step": "checkpoint_after_15000", "status": st, "reply": json.loads(body)}), flush=True)
    L.load_batches(s.port, b_last5, conns=4)
    s.wait_pending_zero(time.perf_counter(), count=n, poll=0.02)
    a, apq = measure(s, "a_0_pending_20k", list(range(nq)), gt)
    summary["a"] = {k: a[k] for k in ("p50_ms", "p99_ms", "recall_at_10", "pending_start", "pending_end")}
    s.kill()
    s.start()
    t200, h = s.wait_ready(poll=0.01)
    print(json.dumps({"state": "b", "step": "restart_after_sigkill", "exec_to_health_200_s": round(t200, 3),
                      "pending_at_first_200": h["linking"]["pending"], "count": h["count"]}), flush=True)
    wins_b, built_b, res_b, rates_b = catchup(s, "b_5k_pending", gt)
    s.term()
finally:
    s.stop_quiet(); L.rm(d)

# ---- (c)
d = L.scratch_dir("lynx-catchup-c-")
s = L.Lynxd(d, FLAGS)
try:
    s.start(); s.wait_ready()
    L.load_batches(s.port, b_40k, conns=4)
    s.kill()
    s.start()
    t200, h = s.wait_ready(poll=0.01)
    print(json.dumps({"state": "c", "step": "restart_after_sigkill", "exec_to_health_200_s": round(t200, 3),
                      "pending_at_first_200": h["linking"]["pending"], "count": h["count"]}), flush=True)
    wins_c, built_c, res_c, rates_c = catchup(s, "c_40k_pending", gt40)
    s.term()
finally:
    s.stop_quiet(); L.rm(d)

for key, wins, built, res, rates in (("b", wins_b, built_b, res_b, rates_b), ("c", wins_c, built_c, res_c, rates_c)):
    w1 = wins[0][0]
    summary[key] = {"window1": {k: w1[k] for k in ("pending_start", "pending_end", "p50_ms", "p99_ms", "recall_at_10")},
                    "built": {k: built[k] for k in ("p50_ms", "p99_ms", "recall_at_10")},
                    "windows": len(wins), "min_diff_vs_built": min(r["diff"] for r in res),
                    "goal_met_all_windows": all(r["goal_ge_built_minus_0.005"] for r in res), **rates}
summary["goal_recall_during_catchup_ge_built_minus_0.005"] = summary["b"]["goal_met_all_windows"] and summary["c"]["goal_met_all_windows"]
summary["loadavg"] = L.loadavg()
print(json.dumps(summary), flush=True)

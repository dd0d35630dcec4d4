#!/usr/bin/env python3
"""HNSW ingest (pending tail + background builder) vs Flat ingest vs an hnswlib 2-thread build, same rounds.

Per round (order alternates: odd rounds flat, hnsw, hnswlib; even rounds hnswlib, hnsw, flat):
  - flat:    a fresh lynxd --index flat --dimension 384 (defaults otherwise) ingests the 20,000 dev vectors as
             POST /vectors batches of 100 over 4 keep-alive connections (bodies pre-encoded before timing).
             records/s = 20,000 / (first send .. last acknowledgement).
  - hnsw:    the same with a fresh lynxd --index hnsw; also the time from the first write until GET /health says
             linking.pending 0 with count 20,000 (polled every 20 ms after the last ack), lynxd's CPU seconds
             (utime+stime from /proc) during the ingest and until linked, and recall@10 at ef_search 64 of the
             linked store (500 dev queries, one POST /search at a time, against gt_l2's first 10).
  - hnswlib: init_index(M=16, ef_construction=200, space l2, seed 100) and add_items(base, num_threads=2),
             wall seconds; recall@10 at ef 64.
  Ratios in the round: hnsw_rps / flat_rps (goal >= 0.8), hnsw_all_linked_s / hnswlib_build_s (goal <= 1.1), and
  (not a goal; less sensitive to other tenants) lynxd CPU seconds first write..linked / hnswlib build CPU seconds
  (process_time of this process during add_items).
One JSON line per measurement, then a summary line (medians over rounds). Load average on every line.

  bench/http/hnsw_ingest_vs_flat.sh [ROUNDS=3]     (wrapper; runs this with /tmp/peers-venv/bin/python)
Env: LYNX_BIN (default /tmp/lynxd-bench), LYNX_BENCH_TMP (scratch, default /tmp), LYNX_BENCH_DATA.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pending_lib as L  # noqa: E402

import hnswlib  # noqa: E402

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
base, q, gt = L.load_dev()
n, dim = base.shape
print(L.env_line(f"rounds={rounds} n={n}"), flush=True)
t = time.perf_counter()
bodies = L.batch_bodies(L.encode_rows(base), 0, 100)
qbodies = L.search_bodies(L.encode_rows(q), 10, 64)
print(f"# encoded {len(bodies)} batch bodies ({sum(len(b) for _, b in bodies) / 1e6:.1f} MB) in "
      f"{time.perf_counter() - t:.1f} s", flush=True)


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run_lynx(index, rnd):
    d = L.scratch_dir(f"lynx-ingest-{index}-")
    s = L.Lynxd(d, ["--index", index, "--dimension", str(dim)]).start()
    try:
        s.wait_ready()
        la0 = L.loadavg()
        c0 = cpu_s(s.proc.pid)
        t0, t1, recs = L.load_batches(s.port, bodies, conns=4)
        c1 = cpu_s(s.proc.pid)
        st, h = s.health()
        out = {"round": rnd, "index": index, "records": recs, "ingest_s": round(t1 - t0, 3),
               "records_per_s": round(recs / (t1 - t0)), "lynxd_cpu_s_ingest": round(c1 - c0, 2),
               "pending_after_last_ack": h["linking"]["pending"], "count_after_last_ack": h["count"]}
        if index == "hnsw":
            linked_s, h2, polls = s.wait_pending_zero(t0, count=n, poll=0.02)
            c2 = cpu_s(s.proc.pid)
            lat, found = L.run_queries(s.port, qbodies, range(len(q)))
            out.update({"all_linked_s_from_first_write": round(linked_s, 3),
                        "linking_after_last_ack_s": round(linked_s - (t1 - t0), 3),
                        "lynxd_cpu_s_first_write_to_linked": round(c2 - c0, 2),
                        "linked_total": h2["linking"]["linked_total"],
                        "recall_at_10_ef64": round(L.recall(found, gt), 4),
                        "search_p50_ms": round(1e3 * L.pct(lat, 50), 3)})
        out["loadavg_before"] = la0
        out["loadavg_after"] = L.loadavg()
        print(json.dumps(out), flush=True)
        return out
    finally:
        s.stop_quiet()
        L.rm(d)


def run_hnswlib(rnd):
    la0 = L.loadavg()
    idx = hnswlib.Index(space="l2", dim=dim)
    idx.init_index(max_elements=n, ef_construction=200, M=16, random_seed=100)
    t, c = time.perf_counter(), time.process_time()
    idx.add_items(base, list(range(n)), num_threads=2)
    build, build_cpu = time.perf_counter() - t, time.process_time() - c
    idx.set_ef(64)
    lab = idx.knn_query(q, k=10, num_threads=1)[0]
    out = {"round": rnd, "lib": "hnswlib", "threads": 2, "build_s": round(build, 3), "build_cpu_s": round(build_cpu, 2),
           "recall_at_10_ef64": round(L.recall([list(map(int, r)) for r in lab], gt), 4),
           "loadavg_before": la0, "loadavg_after": L.loadavg()}
    print(json.dumps(out), flush=True)
    return out


res = []
for r in range(1, rounds + 1):
    order = ["flat", "hnsw", "hnswlib"] if r % 2 else ["hnswlib", "hnsw", "flat"]
    got = {}
    for what in order:
        got[what] = run_hnswlib(r) if what == "hnswlib" else run_lynx(what, r)
    rr = {"round": r, "order": ",".join(order),
          "hnsw_over_flat_records_per_s": round(got["hnsw"]["records_per_s"] / got["flat"]["records_per_s"], 3),
          "hnsw_all_linked_over_hnswlib_build": round(got["hnsw"]["all_linked_s_from_first_write"] / got["hnswlib"]["build_s"], 3),
          "hnsw_linking_cpu_over_hnswlib_build_cpu": round(got["hnsw"]["lynxd_cpu_s_first_write_to_linked"] / got["hnswlib"]["build_cpu_s"], 3),
          "lynx_recall_at_10_ef64": got["hnsw"]["recall_at_10_ef64"],
          "hnswlib_recall_at_10_ef64": got["hnswlib"]["recall_at_10_ef64"], "loadavg": L.loadavg()}
    print(json.dumps(rr), flush=True)
    res.append((got, rr))

med = lambda xs: round(statistics.median(xs), 3)
a = med([rr["hnsw_over_flat_records_per_s"] for _, rr in res])
b = med([rr["hnsw_all_linked_over_hnswlib_build"] for _, rr in res])
print(json.dumps({
    "summary": "HNSW vs Flat ingest, HNSW all-linked vs hnswlib 2-thread build (medians over rounds)",
    "rounds": rounds,
    "flat_records_per_s": med([g["flat"]["records_per_s"] for g, _ in res]),
    "hnsw_records_per_s": med([g["hnsw"]["records_per_s"] for g, _ in res]),
    "hnsw_over_flat": a, "goal_hnsw_over_flat_ge_0.8": a >= 0.8,
    "hnsw_all_linked_s": med([g["hnsw"]["all_linked_s_from_first_write"] for g, _ in res]),
    "hnswlib_build_s": med([g["hnswlib"]["build_s"] for g, _ in res]),
    "linked_over_hnswlib": b, "goal_linked_over_hnswlib_le_1.1": b <= 1.1,
    "linking_cpu_over_hnswlib_cpu": med([rr["hnsw_linking_cpu_over_hnswlib_build_cpu"] for _, rr in res]),
    "lynx_recall_at_10_ef64": med([g["hnsw"]["recall_at_10_ef64"] for g, _ in res]),
    "hnswlib_recall_at_10_ef64": med([g["hnswlib"]["recall_at_10_ef64"] for g, _ in res]),
    "loadavg": L.loadavg()}), flush=True)

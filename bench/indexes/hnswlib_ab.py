#!/usr/bin/env python3
"""hnswlib search-only timing for compare.sh's alternating A/B rounds.

Usage: hnswlib_ab.py DATA_DIR INDEX_FILE EF[,EF...]
Builds (M=16, ef_construction=200, 1 thread, seed 100, as bench_indexes.py) and saves INDEX_FILE when it is
missing, else loads it. Prints one JSON line per ef: recall@10 against gt_l2, queries/s (one knn_query call over all
queries, 1 thread; median of 5) by wall clock and by thread CPU time.
"""
import json, os, sys, time
import numpy as np
import hnswlib

d, path, efs = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
meta = json.load(open(os.path.join(d, "meta.json")))
n, nq, dim = meta["n"], meta["nq"], meta["dim"]
q = np.fromfile(os.path.join(d, "queries.f32"), "<f4").reshape(nq, dim)
gt = np.fromfile(os.path.join(d, "gt_l2.i32"), "<i4").reshape(nq, meta["k_gt"])
idx = hnswlib.Index(space="l2", dim=dim)
if os.path.exists(path):
    idx.load_index(path)
else:
    base = np.fromfile(os.path.join(d, "base.f32"), "<f4").reshape(n, dim)
    idx.init_index(max_elements=n, ef_construction=200, M=16, random_seed=100)
    idx.set_num_threads(1)
    t = time.perf_counter()
    idx.add_items(base, np.arange(n))
    print(json.dumps({"lib": "hnswlib", "build_seconds": round(time.perf_counter() - t, 2)}))
    idx.save_index(path)
idx.set_num_threads(1)
for ef in efs:
    idx.set_ef(ef)
    idx.knn_query(q[:50], k=10, num_threads=1)
    wall, cpu = [], []
    for _ in range(5):
        t, c = time.perf_counter(), time.thread_time()
        lab = idx.knn_query(q, k=10, num_threads=1)[0]
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    rec = sum(len(set(map(int, a)) & set(map(int, g[:10]))) for a, g in zip(lab, gt)) / (10 * nq)
    print(json.dumps({"lib": "hnswlib", "ef_search": ef, "recall_at_10": round(rec, 4),
                      "qps": round(nq / sorted(wall)[2], 1), "qps_cpu": round(nq / sorted(cpu)[2], 1),
                      "loadavg": " ".join(open("/proc/loadavg").read().split()[:3])}))

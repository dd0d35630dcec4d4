#!/usr/bin/env python3
"""hnswlib build timing for parallel_build.sh.

Usage: hnswlib_build.py DATA_DIR THREADS EF[,EF...]
Builds the data set's base vectors (M=16, ef_construction=200, seed 100) with add_items(num_threads=THREADS),
then prints one JSON line per ef: build_seconds (add_items wall clock), build_cpu_seconds (process CPU time of
add_items, all threads), build_threads, recall@10 against gt_l2
(queries on 1 thread).
"""
import json, os, sys, time
import numpy as np
import hnswlib

d, threads, efs = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")]
meta = json.load(open(os.path.join(d, "meta.json")))
n, nq, dim = meta["n"], meta["nq"], meta["dim"]
base = np.fromfile(os.path.join(d, "base.f32"), "<f4").reshape(n, dim)
q = np.fromfile(os.path.join(d, "queries.f32"), "<f4").reshape(nq, dim)
gt = np.fromfile(os.path.join(d, "gt_l2.i32"), "<i4").reshape(nq, meta["k_gt"])
load = " ".join(open("/proc/loadavg").read().split()[:3])
idx = hnswlib.Index(space="l2", dim=dim)
idx.init_index(max_elements=n, ef_construction=200, M=16, random_seed=100)
t, c = time.perf_counter(), time.process_time()
idx.add_items(base, np.arange(n), num_threads=threads)
build, cpu = time.perf_counter() - t, time.process_time() - c
for ef in efs:
    idx.set_ef(ef)
    lab = idx.knn_query(q, k=10, num_threads=1)[0]
    rec = sum(len(set(map(int, a)) & set(map(int, g[:10]))) for a, g in zip(lab, gt)) / (10 * nq)
    print(json.dumps({"lib": "hnswlib", "ef_search": ef, "build_threads": threads, "build_seconds": round(build, 3),
                      "build_cpu_seconds": round(cpu, 3),
                      "recall_at_10": round(rec, 4), "loadavg_before_build": load}))

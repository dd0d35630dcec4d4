#!/usr/bin/env python3
"""FAISS HNSW variants, search-only timing for quantization.sh's alternating rounds.

Usage: faiss_hnsw_variants.py DATA_DIR INDEX_DIR VARIANT EF[,EF...] [REPS]
VARIANT: flat (IndexHNSWFlat), sq8 (IndexHNSWSQ, QT_8bit), rabitq (IndexHNSWRaBitQ, 1-bit codes, under an
IndexRefineFlat that rescores k x 4 candidates exactly). M=16, efConstruction=200, L2 (gt_l2.i32), one thread.
Builds and saves INDEX_DIR/faiss-VARIANT.index when it is missing, else loads it. Prints one JSON line per ef:
recall@10, queries/s (one search call over all queries, median of REPS passes after a warm-up) by wall clock and
by thread CPU time.
"""
import json, os, sys, time
import numpy as np
import faiss

d, out, variant = sys.argv[1], sys.argv[2], sys.argv[3]
efs = [int(x) for x in sys.argv[4].split(",")]
reps = int(sys.argv[5]) if len(sys.argv) > 5 else 5
faiss.omp_set_num_threads(1)
meta = json.load(open(os.path.join(d, "meta.json")))
n, nq, dim = meta["n"], meta["nq"], meta["dim"]
q = np.ascontiguousarray(np.fromfile(os.path.join(d, "queries.f32"), "<f4").reshape(nq, dim))
gt = np.fromfile(os.path.join(d, "gt_l2.i32"), "<i4").reshape(nq, meta["k_gt"])
path = os.path.join(out, f"faiss-{variant}.index")
if os.path.exists(path):
    index = faiss.read_index(path)
else:
    base = np.ascontiguousarray(np.fromfile(os.path.join(d, "base.f32"), "<f4").reshape(n, dim))
    if variant == "flat":
        index = faiss.IndexHNSWFlat(dim, 16)
    elif variant == "sq8":
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 16)
    elif variant == "rabitq":
        index = faiss.IndexRefineFlat(faiss.IndexHNSWRaBitQ(dim, 16))
        index.k_factor = 4
    else:
        raise SystemExit(f"unknown variant {variant}")
    hnsw = faiss.downcast_index(index.base_index) if variant == "rabitq" else index
    hnsw.hnsw.efConstruction = 200
    t, c = time.perf_counter(), time.thread_time()
    index.train(base)
    index.add(base)
    print(json.dumps({"lib": "faiss", "variant": variant, "build_seconds": round(time.perf_counter() - t, 2),
                      "build_cpu_seconds": round(time.thread_time() - c, 2)}))
    faiss.write_index(index, path)
hnsw = faiss.downcast_index(index.base_index) if variant == "rabitq" else index
if variant == "rabitq":
    index.k_factor = 4
for ef in efs:
    hnsw.hnsw.efSearch = ef
    index.search(q[:50], 10)
    wall, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.thread_time()
        _, lab = index.search(q, 10)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    hits = sum(len(set(lab[i]) & set(gt[i, :10])) for i in range(nq))
    print(json.dumps({"lib": "faiss", "variant": variant, "ef_search": ef, "recall_at_10": hits / (10 * nq),
                      "qps": nq / sorted(wall)[len(wall) // 2], "qps_cpu": nq / sorted(cpu)[len(cpu) // 2],
                      "loadavg": open("/proc/loadavg").read().split()[0]}))

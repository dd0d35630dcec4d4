#!/usr/bin/env python3
"""FAISS IndexIVFFlat search timing for ivf_vs_faiss.sh.

Usage: faiss_ivf.py DATA_DIR METRIC NLIST INDEX_FILE NPROBE[,NPROBE...] [REPS]
METRIC is l2 (IndexFlatL2 quantizer, gt_l2.i32) or cosine (inner product on L2-normalised vectors, IndexFlatIP
quantizer, gt_cos.i32). When INDEX_FILE is missing the index is trained on the whole base set (default FAISS
k-means: 10 iterations), filled and saved; else it is loaded. One thread (omp_set_num_threads(1)); every query is
its own index.search call, as Lynx answers one query per request. Prints one JSON line per n_probe: recall@10,
queries/s by wall clock and by thread CPU time (median of REPS passes, default 3, after one warm-up pass).
"""
import json, os, sys, time
import numpy as np
import faiss

d, metric, nlist, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
nprobes = [int(x) for x in sys.argv[5].split(",")]
reps = int(sys.argv[6]) if len(sys.argv) > 6 else 3
assert metric in ("l2", "cosine"), metric
faiss.omp_set_num_threads(1)
meta = json.load(open(os.path.join(d, "meta.json")))
n, nq, dim = meta["n"], meta["nq"], meta["dim"]
q = np.fromfile(os.path.join(d, "queries.f32"), "<f4").reshape(nq, dim)
gt = np.fromfile(os.path.join(d, "gt_l2.i32" if metric == "l2" else "gt_cos.i32"), "<i4").reshape(nq, meta["k_gt"])
if metric == "cosine":
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
q = np.ascontiguousarray(q, dtype="float32")
loadavg = lambda: " ".join(open("/proc/loadavg").read().split()[:3])

if os.path.exists(path):
    index = faiss.read_index(path)
else:
    base = np.fromfile(os.path.join(d, "base.f32"), "<f4").reshape(n, dim)
    if metric == "cosine":
        base = base / np.linalg.norm(base, axis=1, keepdims=True)
    base = np.ascontiguousarray(base, dtype="float32")
    if metric == "l2":
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist, faiss.METRIC_L2)
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    index.train(base)
    index.add(base)
    print(json.dumps({"lib": "faiss_ivf", "metric": metric, "n_clusters": nlist,
                      "build_seconds": round(time.perf_counter() - t, 3), "loadavg": loadavg()}))
    faiss.write_index(index, path)

rows = [q[i:i + 1] for i in range(nq)]
for nprobe in nprobes:
    index.nprobe = nprobe
    for x in rows:  # warm-up pass
        index.search(x, 10)
    wall, cpu = [], []
    for _ in range(max(1, reps)):
        labels = []
        t, c = time.perf_counter(), time.thread_time()
        for x in rows:
            labels.append(index.search(x, 10)[1][0])
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    rec = sum(len(set(map(int, a)) & set(map(int, g[:10]))) for a, g in zip(labels, gt)) / (10 * nq)
    print(json.dumps({"lib": "faiss_ivf", "metric": metric, "n_clusters": nlist, "n_probe": nprobe,
                      "recall_at_10": round(rec, 4), "qps": round(nq / sorted(wall)[len(wall) // 2], 1),
                      "qps_cpu": round(nq / sorted(cpu)[len(cpu) // 2], 1), "loadavg": loadavg()}), flush=True)

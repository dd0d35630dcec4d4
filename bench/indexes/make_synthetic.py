#!/usr/bin/env python3
"""A clustered synthetic data set in the dev format (base.f32, queries.f32, gt_l2.i32, gt_cos.i32, meta.json), for
benchmarks at dimensions and sizes the dev set does not have. Exact ground truth by brute force (numpy, in blocks).

Usage: make_synthetic.py OUT_DIR --n N --dim D [--nq 500] [--clusters 256] [--seed 1]
Vectors: a Gaussian mixture (cluster centres N(0, 1), spread 0.35 per dimension), then normalised to unit length
(so that L2 and cosine rank alike, as with real embeddings); queries are drawn from the same mixture.
"""
import argparse, json, os
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--n", type=int, required=True)
ap.add_argument("--dim", type=int, required=True)
ap.add_argument("--nq", type=int, default=500)
ap.add_argument("--clusters", type=int, default=256)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
centres = rng.standard_normal((a.clusters, a.dim)).astype(np.float32)


def draw(count: int) -> np.ndarray:
    x = centres[rng.integers(0, a.clusters, count)] + 0.35 * rng.standard_normal((count, a.dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


os.makedirs(a.out, exist_ok=True)
base = np.concatenate([draw(min(100_000, a.n - i)) for i in range(0, a.n, 100_000)])
queries = draw(a.nq)
base.tofile(os.path.join(a.out, "base.f32"))
queries.tofile(os.path.join(a.out, "queries.f32"))
k = 100
best = np.full((a.nq, k), np.inf, dtype=np.float32)
ids = np.zeros((a.nq, k), dtype=np.int64)
for i in range(0, a.n, 50_000):
    block = base[i:i + 50_000]
    d = (queries ** 2).sum(1)[:, None] - 2 * queries @ block.T + (block ** 2).sum(1)[None, :]
    alld = np.concatenate([best, d], axis=1)
    allid = np.concatenate([ids, np.arange(i, i + len(block))[None, :].repeat(a.nq, 0)], axis=1)
    order = np.argsort(alld, axis=1, kind="stable")[:, :k]
    best, ids = np.take_along_axis(alld, order, 1), np.take_along_axis(allid, order, 1)
gt = ids.astype(np.int32)
gt.tofile(os.path.join(a.out, "gt_l2.i32"))
gt.tofile(os.path.join(a.out, "gt_cos.i32"))  # unit vectors: the same order
json.dump({"name": f"synthetic-{a.n}x{a.dim}", "n": a.n, "nq": a.nq, "dim": a.dim, "k_gt": k,
           "generator": f"bench/indexes/make_synthetic.py --n {a.n} --dim {a.dim} --nq {a.nq} --clusters {a.clusters} --seed {a.seed}"},
          open(os.path.join(a.out, "meta.json"), "w"), indent=1)
print(f"wrote {a.out}: {a.n} x {a.dim}, {a.nq} queries, exact top-{k}")

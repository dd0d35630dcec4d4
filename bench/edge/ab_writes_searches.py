"""The edge redesign's regression check (issue 20): single-record upserts, batch upserts and searches over HTTP,
two lynxd binaries alternated in the same run.

Usage: python bench/edge/ab_writes_searches.py BIN_A BIN_B [ROUNDS=3]
Each round starts a fresh store per binary (128-d, l2, HNSW defaults, --sync flush, a tail bound of 200,000), order AB in odd rounds and BA
in even ones, and measures on one keep-alive connection (http.client):
  single   POST /vectors with one record, back to back for 4 s           -> requests/s, p50 and p99 in us
  batch    POST /vectors with 500 records, 100 batches (50,000 records)    -> records/s
  search   POST /search k=10 over those records once linked, 4 s           -> queries/s, p50 and p99 in us
One JSON line per measurement, then per measure the medians of each binary and B/A. 127.0.0.1 only; every loop has
a deadline. stdlib + numpy.
"""
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
import pending_lib as lib  # noqa: E402

DIM, BATCH, BATCHES, SECONDS = 128, 500, 100, 4.0


def vec(row):
    return ",".join("%.6f" % v for v in row.tolist())


def timed_loop(port, bodies, path, seconds):
    c = lib.conn(port)
    lat, i, end = [], 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        st, data = lib.call(c, "POST", path, bodies[i % len(bodies)])
        lat.append(time.perf_counter() - t)
        assert st == 200, (st, data[:200])
        i += 1
    c.close()
    lat.sort()
    return {"per_s": len(lat) / seconds, "p50_us": lat[len(lat) // 2] * 1e6, "p99_us": lat[int(len(lat) * 0.99)] * 1e6}


def run(binary, rng_seed, label, rnd):
    lib.BIN = binary
    rng = np.random.default_rng(rng_seed)
    data_dir = tempfile.mkdtemp(prefix="lynx-ab-", dir=lib.TMP)
    # The tail's bound is raised so that no batch waits for the builder: the batch figure is the write path's.
    srv = lib.Lynxd(data_dir, ["--dimension", str(DIM), "--metric", "l2", "--index", "hnsw",
                               "--index-max-pending", "200000"]).start()
    out = []
    try:
        srv.wait_ready(deadline_s=60)
        singles = [f'{{"id":{1_000_000 + i},"vector":[{vec(rng.standard_normal(DIM))}]}}'.encode() for i in range(2000)]
        out.append(("single", timed_loop(srv.port, singles, "/vectors", SECONDS)))
        rows = rng.standard_normal((BATCH * BATCHES, DIM)).astype(np.float32)
        bodies = ['{"vectors":[' + ",".join(f'{{"id":{b * BATCH + j},"vector":[{vec(rows[b * BATCH + j])}]}}'
                                            for j in range(BATCH)) + "]}" for b in range(BATCHES)]
        c = lib.conn(srv.port)
        t = time.perf_counter()
        for body in bodies:
            st, data = lib.call(c, "POST", "/vectors", body.encode())
            assert st == 200, (st, data[:200])
        out.append(("batch", {"per_s": BATCH * BATCHES / (time.perf_counter() - t)}))
        c.close()
        srv.wait_pending_zero(time.perf_counter(), deadline_s=300)
        queries = [f'{{"vector":[{vec(rng.standard_normal(DIM))}],"k":10}}'.encode() for _ in range(500)]
        out.append(("search", timed_loop(srv.port, queries, "/search", SECONDS)))
    finally:
        srv.stop_quiet()
        shutil.rmtree(data_dir, ignore_errors=True)
    for measure, figures in out:
        print(json.dumps({"round": rnd, "bin": label, "measure": measure, "loadavg": lib.loadavg(),
                          **{k: round(v, 1) for k, v in figures.items()}}), flush=True)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bins = {"A": sys.argv[1], "B": sys.argv[2]}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print(f"# A={bins['A']} B={bins['B']} {os.cpu_count()} cores loadavg={lib.loadavg()}", flush=True)
    results = {"A": {}, "B": {}}
    for r in range(1, rounds + 1):
        for label in ("AB" if r % 2 else "BA"):
            for measure, figures in run(bins[label], r, label, r):
                results[label].setdefault(measure, []).append(figures["per_s"])
    for measure in ("single", "batch", "search"):
        a, b = statistics.median(results["A"][measure]), statistics.median(results["B"][measure])
        per_round = [round(y / x, 2) for x, y in zip(results["A"][measure], results["B"][measure])]
        print(f"{measure}: median per s A {a:.0f}, B {b:.0f}, B/A {b / a:.3f} (rounds {per_round})", flush=True)


if __name__ == "__main__":
    main()

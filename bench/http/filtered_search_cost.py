"""Cost of evaluating a metadata filter inside a search: Flat, 64-d, 50,000 records whose metadata is
{"genre": one of 100, "year": ..., "title": ...}; 300 single searches (k 10, one connection) with the equality filter
{"genre": "g7"} (1% of the records pass) and without a filter, per binary, in ABBA rounds. Prints one JSON line per
run (median and p90 latency) and the medians.

Usage: python bench/http/filtered_search_cost.py BIN_A BIN_B   (copies of lynxd). 127.0.0.1 only; every run has a
deadline. stdlib + numpy.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pending_lib as lib  # noqa: E402

DIM, RECORDS, QUERIES, ROUNDS = 64, 50_000, 300, 4
FILTERS = {"genre=g7": {"genre": "g7"}, "none": None}


def batches(rng):
    out = []
    for start in range(0, RECORDS, 1000):
        records = [{"id": i, "vector": [round(float(x), 5) for x in rng.standard_normal(DIM)],
                    "metadata": {"genre": f"g{i % 100}", "year": 1950 + i % 70, "title": f"track {i}"}}
                   for i in range(start, start + 1000)]
        out.append((len(records), json.dumps({"vectors": records}).encode()))
    return out


def run(binary, payload, queries):
    lib.BIN = binary
    data = lib.scratch_dir("filtered-search")
    srv = lib.Lynxd(data, ["--dimension", str(DIM), "--index", "flat"]).start()
    out = {}
    try:
        srv.wait_ready()
        lib.load_batches(srv.port, payload, conns=2, deadline_s=300)
        c = lib.conn(srv.port)
        deadline = time.perf_counter() + 300
        for name, flt in FILTERS.items():
            times = []
            for q in queries:
                body = {"vector": q, "k": 10} | ({"filter": flt} if flt else {})
                t = time.perf_counter()
                status, _ = lib.call(c, "POST", "/search", json.dumps(body).encode())
                times.append(time.perf_counter() - t)
                assert status == 200 and time.perf_counter() < deadline
            times.sort()
            out[name] = (times[len(times) // 2] * 1e3, times[len(times) * 9 // 10] * 1e3)
        c.close()
    finally:
        srv.stop_quiet()
        lib.rm(data)
    return out


def main():
    binaries = sys.argv[1:]
    print(lib.env_line())
    for b in binaries:
        print(f"# {b} sha256={hashlib.sha256(open(b, 'rb').read()).hexdigest()[:12]}")
    rng = np.random.default_rng(3)
    payload = batches(rng)
    queries = [[round(float(x), 5) for x in rng.standard_normal(DIM)] for _ in range(QUERIES)]
    medians = {(b, f): [] for b in binaries for f in FILTERS}
    for round_ in range(ROUNDS):
        for b in (binaries if round_ % 2 == 0 else binaries[::-1]):
            for name, (p50, p90) in run(b, payload, queries).items():
                medians[(b, name)].append(p50)
                print(json.dumps({"bin": b, "filter": name, "round": round_, "p50_ms": round(p50, 3),
                                  "p90_ms": round(p90, 3), "load1": lib.load1()}), flush=True)
    for (b, name), v in medians.items():
        v.sort()
        print(f"{b} {name}: median of {ROUNDS} run p50s {v[len(v) // 2]:.3f} ms")


if __name__ == "__main__":
    main()

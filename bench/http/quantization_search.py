"""Searches over HTTP against two collections of the same vectors, one float32 (`none`) and one with sq8 codes.

Starts lynxd (a fresh data directory, loopback), creates the two collections (cosine, HNSW defaults), loads the dev
set (../shared/data/dev: 20,000 x 384) into each in batches of 500, waits until both are linked, then runs ROUNDS
alternating rounds (none, sq8, then sq8, none, ...) of SECONDS each with THREADS clients, each with its own
keep-alive connection, posting one query per request at `ef_search` EF. Prints per round q/s, recall@10 against the
data set's cosine ground truth, and lynxd's CPU seconds per 1,000 searches; then the medians and the ratios. Also
prints lynxd's RssAnon after the load. Run from the repository root:

    python bench/http/quantization_search.py --bin .build/release/lynxd [--rounds 3] [--seconds 5] [--threads 2] [--ef 32]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import numpy as np
import requests


def start(binary: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir, "--dimension", "4",
                             "--index", "flat"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
        if m:
            url = f"http://127.0.0.1:{m.group(1)}"
            while requests.get(url + "/health").status_code != 200:
                time.sleep(0.05)
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, url
    raise RuntimeError("lynxd did not start")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_anon_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", default="../shared/data/dev")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ef", type=int, default=32)
    args = ap.parse_args()
    meta = json.load(open(os.path.join(args.data, "meta.json")))
    n, nq, dim = meta["n"], meta["nq"], meta["dim"]
    base = np.fromfile(os.path.join(args.data, "base.f32"), "<f4").reshape(n, dim)
    queries = np.fromfile(os.path.join(args.data, "queries.f32"), "<f4").reshape(nq, dim).tolist()
    gt = np.fromfile(os.path.join(args.data, "gt_cos.i32"), "<i4").reshape(nq, meta["k_gt"])[:, :10]
    data_dir = tempfile.mkdtemp(prefix="lynx-qsearch-")
    proc, url = start(args.bin, data_dir)
    try:
        s = requests.Session()
        for name, q in (("none", "none"), ("sq8", "sq8")):
            r = s.put(f"{url}/collections/{name}", json={"dimension": dim, "metric": "cosine", "quantization": {"type": q}})
            assert r.status_code == 201, r.text
            for start_ in range(0, n, 500):
                batch = [{"id": i, "vector": base[i].tolist()} for i in range(start_, min(n, start_ + 500))]
                assert s.post(f"{url}/collections/{name}/vectors", json={"vectors": batch}).status_code == 200
        for name in ("none", "sq8"):
            while s.get(f"{url}/collections/{name}").json()["linking"]["behind"]:
                time.sleep(0.2)
        stats = {name: s.get(f"{url}/collections/{name}/stats").json()["memory"] for name in ("none", "sq8")}
        print(json.dumps({"loaded": n, "rss_anon_mib": round(rss_anon_kib(proc.pid) / 1024, 1), "memory": stats,
                          "loadavg": open("/proc/loadavg").read().split()[:3]}))

        def round_(name: str) -> dict:
            stop = time.monotonic() + args.seconds
            counts, hits = [0] * args.threads, [0] * args.threads

            def client(t: int) -> None:
                cs = requests.Session()
                i = t
                while time.monotonic() < stop:
                    r = cs.post(f"{url}/collections/{name}/search", json={"vector": queries[i % nq], "k": 10, "ef_search": args.ef})
                    assert r.status_code == 200, r.text
                    hits[t] += len({h["id"] for h in r.json()["results"]} & set(gt[i % nq].tolist()))
                    counts[t] += 1
                    i += args.threads

            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            workers = [threading.Thread(target=client, args=(t,)) for t in range(args.threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            seconds, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
            total = sum(counts)
            return {"collection": name, "qps": total / seconds, "recall_at_10": sum(hits) / (10 * total),
                    "lynxd_cpu_ms_per_search": 1000 * cpu / total, "loadavg": open("/proc/loadavg").read().split()[0]}

        results = {"none": [], "sq8": []}
        for r in range(args.rounds):
            for name in (("none", "sq8") if r % 2 == 0 else ("sq8", "none")):
                line = round_(name)
                results[name].append(line)
                print(json.dumps(line))
        med = {k: {m: statistics.median(x[m] for x in v) for m in ("qps", "recall_at_10", "lynxd_cpu_ms_per_search")}
               for k, v in results.items()}
        print(json.dumps({"median": med, "qps_sq8_over_none": med["sq8"]["qps"] / med["none"]["qps"],
                          "cpu_per_search_none_over_sq8": med["none"]["lynxd_cpu_ms_per_search"] / med["sq8"]["lynxd_cpu_ms_per_search"]}))
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

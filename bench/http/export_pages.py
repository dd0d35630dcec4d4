"""Cost of paging through a store in id order (GET /vectors?after=&limit=), and of keeping ids sorted on ingest.

Starts lynxd (flat, dimension 4, a fresh data directory), loads N records with random 64-bit ids in batches of
10,000, then times pages of `limit` records at random cursors (ids only, and with vectors and metadata) and a
full export through next_after. Run from the repository root:

    python bench/http/export_pages.py --bin /tmp/lynxd-copy --n 1000000 [--limit 1000] [--ingest-only]

`--ingest-only` times the load alone (for a binary without the paging routes). It speaks to lynxd through the
Python client (clients/python, `pip install ./clients/python`), so the times include the client's decoding of each
page, as an application's would.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import requests

from lynx_client import Client


def start(binary: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir, "--dimension", "4",
                             "--index", "flat", "--metric", "l2", "--checkpoint-wal-bytes", str(1 << 34)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            url = f"http://127.0.0.1:{m.group(1)}"
            while requests.get(url + "/health").status_code != 200:
                time.sleep(0.05)
            return proc, url
    raise RuntimeError("lynxd did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--ingest-only", action="store_true")
    args = ap.parse_args()
    rng = random.Random(1)
    data_dir = tempfile.mkdtemp(prefix="lynx-export-bench-")
    proc, url = start(args.bin, data_dir)
    client = Client(url)
    try:
        ids = rng.sample(range(1, 1 << 63), args.n)
        t0 = time.monotonic()
        for start_ in range(0, args.n, 10_000):
            batch = ids[start_:start_ + 10_000]
            client.upsert("default", ids=batch, vectors=[[i % 7, i % 11, 1, 0] for i in batch],
                          metadata=[{"g": i % 10} for i in batch])
        ingest = time.monotonic() - t0
        print(f"ingest: {args.n} records with random ids in {ingest:.2f} s ({args.n / ingest:,.0f} records/s; "
              f"lynxd CPU {cpu_seconds(proc.pid):.2f} s)")
        if args.ingest_only:
            return
        cursors = rng.sample(ids, args.pages)
        for include, label in (([], "ids only"), (["vector", "metadata"], "vectors and metadata")):
            times = []
            for c in cursors:
                t = time.monotonic()
                client.list_page("default", after=c, limit=args.limit, include=include)
                times.append(time.monotonic() - t)
            print(f"page of {args.limit} ({label}) at random cursors: median {statistics.median(times) * 1e3:.2f} ms, "
                  f"p99 {percentile(times, 0.99) * 1e3:.2f} ms over {len(times)} pages")
        t = time.monotonic()
        seen = sum(1 for _ in client.scroll("default", page_size=args.limit))
        export = time.monotonic() - t
        assert seen == args.n, seen
        print(f"export of {seen} records (vectors and metadata) in pages of {args.limit}: {export:.2f} s")
        t = time.monotonic()
        matches = client.count("default", filter={"g": 3})
        print(f"count with a filter over {args.n} records: {(time.monotonic() - t) * 1e3:.1f} ms -> {matches}")
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

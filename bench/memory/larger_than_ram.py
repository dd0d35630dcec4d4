"""A store larger than its memory limit (issue 21): N clustered 384-d vectors ingested over HTTP into lynxd running in
a cgroup v1 memory group of LIMIT bytes (page cache charged too), for each setting in turn.

Per setting: lynxd starts in the group on a fresh data directory (HNSW, l2, the setting's flags); N vectors go in
over HTTP in batches of 500 (one client; a 503 is retried after its Retry-After); then it waits until linked,
checkpoints, and prints RssAnon, the group's usage and the OOM kills the group counted; recall@10 of the queries
against brute-force ground truth at each ef, with q/s and p50/p99 latency (one client); then SIGKILL, restart (in
the group), the seconds to ready, whether every acknowledged record is there (count and a sample read back), and
recall again. A setting that is OOM-killed is reported with how far it got. Every wait is bounded.

    .venv-test/bin/python bench/memory/larger_than_ram.py BIN [--n 1000000] [--limit 1G]
        [--settings sq8+on_disk,none] [--efs 32,64,128] [--tmp DIR]

Needs root and cgroup v1's memory controller at /sys/fs/cgroup/memory (FACTS.md), numpy and orjson.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_rss import BATCH, Data, Server  # noqa: E402
from settings_rss import flags, ground_truth, queries  # noqa: E402

CGROUP = Path("/sys/fs/cgroup/memory")


def parse_bytes(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


class Group:
    """A cgroup v1 memory group with a limit; `wrapper` is an executable that joins it and execs lynxd."""

    def __init__(self, name: str, limit: int, binary: str, tmp: str):
        self.path = CGROUP / name
        if self.path.exists():
            self.path.rmdir()
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit))
        self.wrapper = os.path.join(tmp, f"{name}.sh")
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\necho $$ > {self.path}/cgroup.procs\nexec {binary} \"$@\"\n")
        os.chmod(self.wrapper, stat.S_IRWXU)

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def oom_kills(self) -> int:
        for line in self.read("memory.oom_control").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return -1

    def usage(self) -> int:
        return int(self.read("memory.max_usage_in_bytes"))

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError as e:
            print(f"  (could not remove {self.path}: {e})")


def body(start: int, vectors: np.ndarray) -> bytes:
    return orjson.dumps({"vectors": [{"id": start + i, "vector": v} for i, v in enumerate(vectors)]},
                        option=orjson.OPT_SERIALIZE_NUMPY)


def search(srv: Server, q: np.ndarray, ef: int, truth: np.ndarray) -> dict:
    hits, times = 0, []
    for i, v in enumerate(q):
        t0 = time.monotonic()
        r = srv.session.post(srv.url("/search"), data=orjson.dumps({"vector": v, "k": 10, "ef_search": ef},
                             option=orjson.OPT_SERIALIZE_NUMPY), headers={"content-type": "application/json"}, timeout=60)
        times.append(time.monotonic() - t0)
        r.raise_for_status()
        hits += len(set(truth[i].tolist()) & {h["id"] for h in r.json()["results"]})
    times.sort()
    return {"recall": hits / (10 * len(q)), "qps": len(q) / sum(times),
            "p50_ms": times[len(times) // 2] * 1e3, "p99_ms": times[int(len(times) * 0.99)] * 1e3}


def alive(srv: Server) -> bool:
    return srv.proc is not None and srv.proc.poll() is None


def one_setting(binary: str, setting: str, data: Data, q, truth, args, log) -> None:
    root = tempfile.mkdtemp(prefix="lynx-ram-", dir=args.tmp)
    group = Group(f"lynx-bench-{os.getpid()}", args.limit, binary, root)
    srv = Server(group.wrapper, os.path.join(root, "data"), data.dim, "default", log, extra=flags(setting))
    head = f"{setting:<14}"
    acknowledged = 0
    try:
        srv.start()
        srv.wait_ready_and_linked(60)
        t0 = time.monotonic()
        deadline = t0 + args.timeout
        try:
            for start in range(0, data.n, BATCH):
                count = min(BATCH, data.n - start)
                srv.upsert(body(start, data.batch(start, count)), deadline)
                acknowledged = start + count
                if acknowledged % 100_000 == 0:
                    print(f"  {head} {acknowledged:>8} acknowledged at {time.monotonic() - t0:6.0f} s, group peak "
                          f"{group.usage() / 2**20:.0f} MiB, RssAnon {srv.rss_anon() / 2**20:.0f} MiB", flush=True)
        except (requests.ConnectionError, RuntimeError) as e:
            time.sleep(0.5)
            if not alive(srv):
                print(f"{head} lynxd died at {acknowledged:,} acknowledged records after {time.monotonic() - t0:.0f} s: "
                      f"exit {srv.proc.returncode}, OOM kills in the group {group.oom_kills()}, group peak "
                      f"{group.usage() / 2**20:.0f} MiB", flush=True)
                return
            raise e
        ingest_s = time.monotonic() - t0
        link_s = srv.wait_ready_and_linked(args.timeout)
        r = srv.session.post(srv.url("/checkpoint"), json={}, timeout=args.timeout)
        r.raise_for_status()
        time.sleep(3)
        stats = srv.session.get(srv.url("/stats"), timeout=30).json()
        print(f"{head} ingested {data.n:,} in {ingest_s:.0f} s ({data.n / ingest_s:.0f}/s), linked {link_s:.0f} s "
              f"later; RssAnon {srv.rss_anon() / 2**20:.0f} MiB ({srv.rss_anon() / data.n:.0f} bytes/vector), "
              f"group peak {group.usage() / 2**20:.0f} MiB of {args.limit / 2**20:.0f}, OOM kills "
              f"{group.oom_kills()}, mapped {stats['memory']['mapped_vector_bytes'] / 2**20:.0f} MiB, heap parts "
              f"{ {k: round(v / 2**20) for k, v in stats['memory'].items()} } MiB", flush=True)
        for ef in args.efs:
            s = search(srv, q, ef, truth)
            print(f"{head} ef {ef:>4}: recall@10 {s['recall']:.4f}  {s['qps']:.0f} q/s  p50 {s['p50_ms']:.1f} ms  "
                  f"p99 {s['p99_ms']:.1f} ms", flush=True)
        srv.stop(signal.SIGKILL)
        t1 = time.monotonic()
        srv.start(timeout=args.timeout)
        srv.wait_ready_and_linked(args.timeout)
        ready_s = time.monotonic() - t1
        _, h = srv.health()
        rng = np.random.default_rng(5)
        sample = rng.integers(0, data.n, 200)
        present = sum(srv.session.get(srv.url(f"/vectors/{int(i)}"), timeout=30).status_code == 200 for i in sample)
        print(f"{head} after SIGKILL: ready in {ready_s:.2f} s, count {h['count']:,} of {acknowledged:,} "
              f"acknowledged, {present}/200 sampled ids read back, RssAnon {srv.rss_anon() / 2**20:.0f} MiB, OOM "
              f"kills {group.oom_kills()}", flush=True)
        s = search(srv, q, args.efs[-1], truth)
        print(f"{head} after SIGKILL, ef {args.efs[-1]}: recall@10 {s['recall']:.4f}  {s['qps']:.0f} q/s  p99 "
              f"{s['p99_ms']:.1f} ms", flush=True)
        srv.stop(signal.SIGTERM)
    finally:
        if alive(srv):
            srv.stop(signal.SIGKILL)
        time.sleep(0.5)
        group.remove()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dimension", type=int, default=384)
    p.add_argument("--limit", default="1G")
    p.add_argument("--settings", default="sq8+on_disk,none")
    p.add_argument("--efs", default="32,64,128")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--tmp", default=None, help="where the data directories go (a disk, not tmpfs: its pages count)")
    args = p.parse_args()
    if not (CGROUP / "memory.limit_in_bytes").exists():
        raise SystemExit(f"skipped: no cgroup v1 memory controller at {CGROUP}")
    args.limit = parse_bytes(args.limit)
    args.efs = [int(x) for x in args.efs.split(",")]
    binary = os.path.abspath(args.binary)
    data = Data("synthetic", args.n, args.dimension)
    q = queries(data)
    t0 = time.monotonic()
    truth = ground_truth(data, q)
    print(f"N {args.n:,}, {data.note}; {len(q)} queries, ground truth by brute force in {time.monotonic() - t0:.0f} s; "
          f"memory limit {args.limit / 2**20:.0f} MiB (page cache included)", flush=True)
    log = open(os.path.join(tempfile.gettempdir(), "larger_than_ram.lynxd.log"), "a")
    for setting in args.settings.split(","):
        one_setting(binary, setting, data, q, truth, args, log)


if __name__ == "__main__":
    main()

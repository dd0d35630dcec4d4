#!/usr/bin/env python3
"""Soak: mixed traffic at many connections against a running lynxd, for a fixed time, then proof that every
acknowledged write is there.

    python3 bench/soak/soak.py --url http://127.0.0.1:7311 --pid PID --dimension 32 --seconds 600

Each of --connections threads keeps one keep-alive session and owns its own ids (thread t: t*1e6 + 0..ids-1),
so it knows exactly what the store must hold for them: an acknowledged upsert sets the record, an
acknowledged delete removes it, and a request that failed leaves the model unsure of that id (it is checked
as either). Each thread first writes all its ids in one batch, so the store is at its steady size early. The mix: single and batched upserts, deletes, searches, batched searches, get by id, and bad
requests (malformed JSON, wrong dimension, unknown route) that must get their 4xx and change nothing.

Prints per operation the count and p50/p99 in ms, the number of 5xx answers and transport errors, lynxd's
RSS (VmRSS of --pid) after the warm-up (the first fifth) and at the end, and the verification result. Exit
status 0 when there was no 5xx, no transport error, RSS grew less than 10% after the warm-up and every
acknowledged write was found; 1 otherwise. The id space per thread is bounded, so the store reaches its
steady size during the warm-up.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field

import requests

UNSURE = object()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class ThreadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    transport_errors: int = 0
    wrong_answers: list[str] = field(default_factory=list)
    model: dict[int, object] = field(default_factory=dict)  # id -> vector (list), None (deleted) or UNSURE


def vector(rng: random.Random, dim: int) -> list[float]:
    # Multiples of 1/64 in [-2, 2]: exact in float32, so the stored vector compares equal.
    return [rng.randrange(-128, 129) / 64 for _ in range(dim)]


def worker(t: int, url: str, dim: int, ids: int, until: float, seed: int, out: ThreadResult) -> None:
    rng = random.Random(seed * 1000 + t)
    s = requests.Session()
    base = t * 1_000_000

    def call(op: str, method: str, path: str, **kw) -> requests.Response | None:
        started = time.monotonic()
        try:
            r = s.request(method, url + path, timeout=30, **kw)
        except requests.RequestException:
            out.transport_errors += 1
            return None
        out.latencies.setdefault(op, []).append(time.monotonic() - started)
        if r.status_code >= 500:
            out.server_errors.append(f"{op}: {r.status_code} {r.text[:200]}")
        return r

    # Every owned id written once first, so the store is at its steady size before the warm-up ends.
    prefill = {base + i: vector(rng, dim) for i in range(ids)}
    r = call("upsert_batch", "POST", "/vectors", json={"vectors": [{"id": i, "vector": v} for i, v in prefill.items()]})
    for i, v in prefill.items():
        out.model[i] = v if r is not None and r.status_code == 200 else UNSURE

    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.25:
            i = base + rng.randrange(ids)
            v = vector(rng, dim)
            r = call("upsert", "POST", "/vectors", json={"id": i, "vector": v, "metadata": {"t": t}})
            out.model[i] = v if r is not None and r.status_code == 200 else UNSURE
        elif roll < 0.35:
            batch = {base + rng.randrange(ids): vector(rng, dim) for _ in range(rng.randrange(2, 50))}
            r = call("upsert_batch", "POST", "/vectors",
                     json={"vectors": [{"id": i, "vector": v} for i, v in batch.items()]})
            ok = r is not None and r.status_code == 200
            for i, v in batch.items():
                out.model[i] = v if ok else UNSURE
        elif roll < 0.45:
            i = base + rng.randrange(ids)
            r = call("delete", "DELETE", f"/vectors/{i}")
            if r is not None and r.status_code in (200, 404):
                out.model[i] = None
            else:
                out.model[i] = UNSURE
        elif roll < 0.75:
            r = call("search", "POST", "/search", json={"vector": vector(rng, dim), "k": 10})
            if r is not None and r.status_code != 200:
                out.wrong_answers.append(f"search: {r.status_code} {r.text[:200]}")
        elif roll < 0.82:
            r = call("search_batch", "POST", "/search/batch",
                     json={"queries": [vector(rng, dim) for _ in range(8)], "k": 5})
            if r is not None and r.status_code != 200:
                out.wrong_answers.append(f"search/batch: {r.status_code} {r.text[:200]}")
        elif roll < 0.94:
            i = base + rng.randrange(ids)
            r = call("get", "GET", f"/vectors/{i}")
            if r is not None and r.status_code not in (200, 404):
                out.wrong_answers.append(f"get: {r.status_code} {r.text[:200]}")
        else:
            kind = rng.randrange(3)
            if kind == 0:
                r = call("bad_request", "POST", "/vectors", data=b'{"id": 1, "vector": [1,', headers={"Content-Type": "application/json"})
                want = 400
            elif kind == 1:
                r = call("bad_request", "POST", "/vectors", json={"id": base + rng.randrange(ids), "vector": [1.0] * (dim + 1)})
                want = 422
            else:
                r = call("bad_request", "GET", "/no/such/route")
                want = 404
            if r is not None and r.status_code != want:
                out.wrong_answers.append(f"bad request: wanted {want}, got {r.status_code} {r.text[:200]}")
    s.close()


def verify(url: str, models: list[dict[int, object]]) -> list[str]:
    """Every acknowledged write is there, every acknowledged delete is gone (ids in doubt may be either)."""
    problems: list[str] = []
    s = requests.Session()
    expected = {i: v for m in models for i, v in m.items() if v is not UNSURE}
    ids = sorted(expected)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        r = s.post(url + "/vectors/get", json={"ids": chunk}, timeout=60)
        if r.status_code != 200:
            return [f"POST /vectors/get: {r.status_code} {r.text[:200]}"]
        found = {rec["id"]: rec["vector"] for rec in r.json()["vectors"]}
        for i in chunk:
            want = expected[i]
            if want is None and i in found:
                problems.append(f"id {i}: deleted (acknowledged) but present")
            elif want is not None and found.get(i) != want:
                problems.append(f"id {i}: acknowledged upsert {'missing' if i not in found else 'differs'}")
    s.close()
    return problems


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run(url: str, pid: int, dim: int, seconds: float, connections: int, ids: int, seed: int,
        out=print) -> dict:
    started = time.monotonic()
    until = started + seconds
    results = [ThreadResult() for _ in range(connections)]
    threads = [threading.Thread(target=worker, args=(t, url, dim, ids, until, seed, results[t]), daemon=True)
               for t in range(connections)]
    for th in threads:
        th.start()
    time.sleep(seconds / 5)
    rss_warm = rss_bytes(pid)
    rss_peak = rss_warm
    while time.monotonic() < until:
        time.sleep(min(1.0, max(0.0, until - time.monotonic())))
        rss_peak = max(rss_peak, rss_bytes(pid))
    for th in threads:
        th.join(timeout=60)
    stuck = sum(th.is_alive() for th in threads)
    rss_end = rss_bytes(pid)
    elapsed = time.monotonic() - started

    ops: dict[str, list[float]] = {}
    for r in results:
        for op, lat in r.latencies.items():
            ops.setdefault(op, []).extend(lat)
    total = sum(len(v) for v in ops.values())
    out(f"soak: {connections} connections, {elapsed:.1f} s, {total} requests ({total / elapsed:.0f}/s)")
    for op in sorted(ops):
        lat = ops[op]
        out(f"  {op:<13} {len(lat):>8}  p50 {percentile(lat, 0.5) * 1e3:7.2f} ms  p99 {percentile(lat, 0.99) * 1e3:7.2f} ms")
    server_errors = [e for r in results for e in r.server_errors]
    wrong = [e for r in results for e in r.wrong_answers]
    transport = sum(r.transport_errors for r in results)
    growth = (rss_end - rss_warm) / rss_warm
    out(f"  5xx: {len(server_errors)}  transport errors: {transport}  other wrong answers: {len(wrong)}  stuck threads: {stuck}")
    out(f"  RSS after warm-up {rss_warm / 2**20:.1f} MiB, peak {rss_peak / 2**20:.1f} MiB, end {rss_end / 2**20:.1f} MiB "
        f"(growth {growth * 100:+.1f}%)")
    missing = verify(url, [r.model for r in results])
    acked = sum(1 for r in results for v in r.model.values() if v is not UNSURE)
    out(f"  verified {acked} ids with an acknowledged last write: {len(missing)} wrong")
    for line in (server_errors + wrong + missing)[:10]:
        out(f"    {line}")
    return {"requests": total, "server_errors": server_errors, "transport_errors": transport, "wrong": wrong,
            "missing": missing, "rss_growth": growth, "stuck": stuck, "verified": acked,
            "models": [r.model for r in results]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--pid", type=int, required=True, help="lynxd's process id (for its RSS)")
    p.add_argument("--dimension", type=int, required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--ids", type=int, default=100, help="ids owned by each connection")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    res = run(a.url, a.pid, a.dimension, a.seconds, a.connections, a.ids, a.seed)
    ok = not (res["server_errors"] or res["transport_errors"] or res["wrong"] or res["missing"] or res["stuck"]) \
        and res["rss_growth"] < 0.10
    print("soak:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

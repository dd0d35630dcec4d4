#!/usr/bin/env python3
"""Replication benchmark (issue 14): one run, one machine, every figure printed as a table. Not a test.

    .venv-test/bin/python bench/replication/replication_bench.py [--quick] [--lynxd PATH] [--clients 4]

Starts its own etcd and lynxd processes on 127.0.0.1 (Tests/integration/cluster.py) in a temporary directory:
1. ingest (upserts/s, --clients client processes, batches of 1 and of 100): a single node (no etcd), a leader with
   2 async followers, and sync --sync-replicas 1 (durable writes; compared with a single node's durable writes);
   in two layouts (--layouts): "shared", every process on any core, and "separate", the single node or the
   leader with the clients on half of the cores and the followers and etcd on the other half (CPU affinity: a
   stand-in for followers on machines of their own; the single node gets the same half as the leader); --rounds
   rounds of each (a single node, then a cluster), the median and the range of the ratio printed;
2. follower apply rate: frames/s a follower applied during sustained async load (from its GET /replication),
   beside the leader's ingest rate and the largest lag seen;
3. failover: SIGKILL the leader under load --kills times; kill -> first acknowledged write on the new leader;
4. search q/s with 1, 2 and 3 nodes serving reads (the clients spread queries round robin).
Vectors: ../shared/data/dev (384-d embeddings, meta.json) when present, else random unit vectors (printed).
Outside the "separate" ingest layout all nodes share this machine's cores: the ratios say what replication costs
here, not on machines of their own. The clients send each vector's JSON text made once before the phase.
Phases of 8 s (ingest, search; 32 s of sustained load for the apply rate). About 30 minutes in all.
--quick: about three minutes (4 s phases, one round, flat index only, 3 kills).
"""
from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))

import requests  # noqa: E402

import lynx_helpers  # noqa: E402
from cluster import Cluster, Etcd, default_store  # noqa: E402
from replication_load import start_load, stop_all, wait_first_ack  # noqa: E402

DEV = REPO.parent / "shared" / "data" / "dev"


# --------------------------------------------------------------------------- data


def load_vectors(n_max: int) -> tuple[list[list[float]], list[list[float]], str]:
    meta = DEV / "meta.json"
    if meta.is_file():
        m = json.loads(meta.read_text())
        dim, n, nq = m["dim"], min(m["n"], n_max), m["nq"]
        raw = (DEV / "base.f32").read_bytes()[: n * dim * 4]
        base = [list(struct.unpack_from(f"<{dim}f", raw, i * dim * 4)) for i in range(n)]
        qraw = (DEV / "queries.f32").read_bytes()
        queries = [list(struct.unpack_from(f"<{dim}f", qraw, i * dim * 4)) for i in range(nq)]
        return base, queries, f"../shared/data/dev: {n} x {dim} embeddings, {nq} queries"
    rng = random.Random(14)
    dim = 384

    def unit():
        v = [rng.gauss(0, 1) for _ in range(dim)]
        s = sum(x * x for x in v) ** 0.5
        return [x / s for x in v]
    return [unit() for _ in range(n_max)], [unit() for _ in range(200)], \
        f"random unit vectors (no ../shared/data/dev): {n_max} x {dim}"


# --------------------------------------------------------------------------- processes


def make_start_server(lynxd: str, root: Path, servers: list):
    counter = itertools.count(1)

    def start_server(*, data_dir, extra_args, defaults=False, wait=False, **_):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
        srv = lynx_helpers.LynxServer([lynxd, *extra_args], env, Path(data_dir),
                                      root / f"lynxd-{next(counter)}.log")
        servers.append(srv)
        if wait:
            srv.wait_listening()
            srv.wait_ready()
        return srv
    return start_server


class Single:
    """One lynxd without etcd, shaped like a Cluster's Node for the client code."""

    def __init__(self, start_server, root: Path, args: list):
        root.mkdir(parents=True, exist_ok=True)
        port = lynx_helpers.free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = start_server(data_dir=root / "single", wait=True, extra_args=[
            "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(root / "single"), *map(str, args)])

    def close(self):
        self.server.kill()


def store_args(index: str, dim: int, sync_always: bool) -> list:
    args = ["--dimension", dim, "--metric", "l2", "--index", index]
    return args + (["--sync", "always"] if sync_always else [])


# --------------------------------------------------------------------------- client processes


def _pin(cpus) -> None:
    """Pool initializer: this client process runs on `cpus` only (None: anywhere)."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _ingest_worker(args) -> int:
    urls, texts, start_id, batch, seconds, durable = args
    s = requests.Session()
    path = "/vectors" + ("?durable=true" if durable else "")
    headers = {"Content-Type": "application/json"}
    done, i, k = 0, start_id, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # Each vector's JSON text was made once (vector_texts): the client spends its time sending, not encoding.
        body = '{"vectors":[' + ",".join(f'{{"id":{i + j},"vector":{texts[(i + j) % len(texts)]}}}'
                                          for j in range(batch)) + "]}"
        r = s.post(urls[k % len(urls)] + path, data=body.encode(), headers=headers, timeout=30)
        if r.status_code == 200:
            done += batch
        i += batch
        k += 1
    return done


def vector_texts(vectors) -> list[str]:
    """The JSON text of each vector, as the load generator sends it (float32 values printed exactly)."""
    return [json.dumps(v, separators=(",", ":")) for v in vectors]


def pin_process(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` on `cpus`; threads it makes later inherit that from the thread that makes them."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:
            pass  # a thread that ended meanwhile


def split_cores() -> tuple[set[int], set[int]]:
    """This process's cores in two halves: (the measured side, the followers' side)."""
    cores = sorted(os.sched_getaffinity(0))
    half = len(cores) // 2
    return set(cores[:half]), set(cores[half:])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(urls: list[str], texts: list[str], clients: int, batch: int, seconds: float, durable: bool,
           base_id: int, pids: list[int] = (), client_cpus=None) -> tuple[float, list[float]]:
    """Upserts/s, and the CPU seconds each of `pids` spent per 1,000 upserts meanwhile."""
    work = [(urls, texts, base_id + c * 100_000_000, batch, seconds, durable) for c in range(clients)]
    cpu0 = [cpu_seconds(p) for p in pids]
    t0 = time.monotonic()
    with mp.get_context("fork").Pool(clients, initializer=_pin, initargs=(client_cpus,)) as pool:
        total = sum(pool.map(_ingest_worker, work))
    rate = total / (time.monotonic() - t0)
    # CPU seconds per upsert x 1e6 = CPU milliseconds per 1,000 upserts.
    per_k = [(cpu_seconds(p) - c0) * 1e6 / max(total, 1) for p, c0 in zip(pids, cpu0)]
    return rate, per_k


def _search_worker(args) -> int:
    urls, queries, seconds, offset = args
    s = requests.Session()
    n, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        q = queries[(n + offset) % len(queries)]
        r = s.post(urls[(n + offset) % len(urls)] + "/search", json={"vector": q, "k": 10}, timeout=30)
        assert r.status_code == 200, r.text
        n += 1
    return n


def search_qps(urls: list[str], queries, clients: int, seconds: float) -> float:
    work = [(urls, queries, seconds, c) for c in range(clients)]
    t0 = time.monotonic()
    with mp.get_context("fork").Pool(clients) as pool:
        total = sum(pool.map(_search_worker, work))
    return total / (time.monotonic() - t0)


# --------------------------------------------------------------------------- phases


def wait_linked(url: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = requests.get(url + "/health", timeout=5).json()
        if h.get("linking", {}).get("pending", 0) == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} still linking after {timeout} s")


def new_cluster(start_server, root: Path, args: list, **kw) -> Cluster:
    c = Cluster(start_server, root, 3, lease_ttl=2, extra_args=args, **kw)
    c.start()
    c.wait_leader(30)
    return c


def ingest_pair(start_server, root: Path, index: str, dim: int, durable: bool, batch: int, texts: list[str],
                clients: int, seconds: float, near, far) -> dict:
    """One round of one configuration: a single node's ingest, then a 3-node cluster's through its leader. With
    `near`/`far` (the separate layout) the single node, the leader and the clients run on `near`, the followers
    and etcd on `far`. Each one's data is deleted after it: at 50k upserts/s a phase writes gigabytes of log."""
    tag = f"{index}-{batch}-{int(durable)}"
    d = root / f"single-{tag}"
    single = Single(start_server, d, store_args(index, dim, durable))
    if near:
        pin_process(single.server.proc.pid, near)
    one, (one_cpu,) = ingest([single.url], texts, clients, batch, seconds, durable, 0, [single.server.proc.pid], near)
    single.close()
    shutil.rmtree(d, ignore_errors=True)
    kw = {"replication": "sync", "sync_replicas": 1} if durable else {}
    cd = root / f"cluster-{tag}"
    c = new_cluster(start_server, cd, store_args(index, dim, durable), **kw)
    leader = c.wait_leader()
    followers = c.others(leader)
    if near:
        pin_process(leader.server.proc.pid, near)
        for pid in [f.server.proc.pid for f in followers] + [c.etcd.proc.pid]:
            pin_process(pid, far)
    pids = [leader.server.proc.pid] + [f.server.proc.pid for f in followers]
    rep, cpus = ingest([leader.url], texts, clients, batch, seconds, durable, 0, pids, near)
    c.close()
    shutil.rmtree(cd, ignore_errors=True)
    return {"one": one, "rep": rep, "one_cpu": one_cpu, "cpus": cpus}


def apply_rate(c: Cluster, texts: list[str], clients: int, seconds: float) -> dict:
    """Sustained async load on the leader; the followers' last_lsn sampled every 0.25 s."""
    leader = c.wait_leader()
    followers = c.others(leader)
    pool = mp.get_context("fork").Pool(clients)
    work = [([leader.url], texts, 900_000_000 + k * 10_000_000, 100, seconds, False) for k in range(clients)]
    pending = pool.map_async(_ingest_worker, work)
    samples, max_lag = [], 0
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        row = [time.monotonic(), default_store(leader.status(5))["last_lsn"]]
        for f in followers:
            st = default_store(f.status(5))
            row.append(st["last_lsn"])
            max_lag = max(max_lag, st["lag_frames"])
        samples.append(row)
        time.sleep(0.25)
    pending.get()
    pool.close()
    first, last = samples[len(samples) // 5], samples[-1]  # past the warm-up
    dt = last[0] - first[0]
    out = {"leader": (last[1] - first[1]) / dt, "max_lag": max_lag}
    out["followers"] = [(last[2 + k] - first[2 + k]) / dt for k in range(len(followers))]
    c.wait_converged(timeout=300)
    return out


def failovers(c: Cluster, kills: int) -> list[float]:
    monitor, log, writers = start_load(c, writers=3, first_id=2_000_000_000)
    times = []
    try:
        for _ in range(kills):
            time.sleep(1.5)
            old = monitor.leader
            killed = time.monotonic()
            old.kill()
            first = wait_first_ack(log, old, killed, timeout=20)
            if first is None:
                raise RuntimeError("no acknowledged write within 20 s of a kill")
            times.append(first)
            old.restart()
    finally:
        stop_all(writers)
        monitor.stop()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lynxd", default=str(REPO / ".build" / "release" / "lynxd"))
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--kills", type=int, default=None)
    ap.add_argument("--layouts", default="shared,separate",
                    help="comma-separated: shared (every process on any core), separate (the followers and etcd "
                         "on cores of their own)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds of each ingest configuration (the median is printed; default 3, 1 with --quick)")
    ap.add_argument("--phases", default="ingest,apply,failover,search",
                    help="comma-separated subset of ingest, apply, failover, search")
    a = ap.parse_args()
    phases = set(a.phases.split(","))
    layouts = a.layouts.split(",")
    if "separate" in layouts and len(os.sched_getaffinity(0)) < 2:
        print("--layouts separate needs 2 or more cores; running shared only", file=sys.stderr)
        layouts = [x for x in layouts if x != "separate"]
    if not shutil.which("etcd"):
        print("etcd is not installed (apt-get install etcd-server)", file=sys.stderr)
        return 2
    phase = 4.0 if a.quick else 8.0
    a.rounds = a.rounds or (1 if a.quick else 3)
    kills = a.kills or (3 if a.quick else 10)
    indexes = ["flat"] if a.quick else ["flat", "hnsw"]
    base, queries, source = load_vectors(5000 if a.quick else 20000)
    dim = len(base[0])
    print(f"data: {source}; clients: {a.clients} processes; phase {phase:.0f} s; cores: {os.cpu_count()}")

    root = Path(tempfile.mkdtemp(prefix="lynx-repl-bench-"))
    servers: list = []
    start_server = make_start_server(a.lynxd, root, servers)
    try:
        texts = vector_texts(base)
        for layout in (layouts if "ingest" in phases else []):
            # separate: the single node or the leader, with the clients, on one half of the cores; the followers
            # and etcd on the other half (a stand-in for machines of their own). shared: all anywhere.
            near, far = split_cores() if layout == "separate" else (None, None)
            runs: dict[str, list] = {}
            for r in range(a.rounds):
                for index in indexes:
                    for durable in (False, True):
                        for batch in (1, 100):
                            label = f"{index}, batch {batch}" + (", durable" if durable else "")
                            runs.setdefault(label, []).append(
                                ingest_pair(start_server, root / f"{layout}-{r}", index, dim, durable, batch, texts,
                                            a.clients, phase, near, far))
            where = (f"single node or leader and the clients on cores {sorted(near)}, followers and etcd on "
                     f"{sorted(far)}") if near else "every process on any core"
            print(f"\n== ingest, {layout} cores ({where}); median of {a.rounds} rounds (each a single node, then a "
                  "cluster, one after the other): upserts/s, the ratio (and its range over the rounds), CPU ms per "
                  "1,000 upserts of the single node, the leader and each follower")
            print(f"{'store':26} {'single':>7} {'cluster':>8} {'ratio':>6} {'range':>10}  {'cpu single':>10} "
                  f"{'leader':>7} {'followers':>13}  mode")
            for label, rs in runs.items():
                med = lambda f: statistics.median(f(x) for x in rs)  # noqa: E731
                ratios = [x["rep"] / x["one"] for x in rs]
                mode = "sync K=1" if "durable" in label else "async, 2 followers"
                followers = " ".join(f"{med(lambda x, k=k: x['cpus'][k]):6.0f}" for k in (1, 2))
                print(f"{label:26} {med(lambda x: x['one']):7.0f} {med(lambda x: x['rep']):8.0f} "
                      f"{statistics.median(ratios):6.2f} {min(ratios):4.2f}-{max(ratios):4.2f}  "
                      f"{med(lambda x: x['one_cpu']):10.0f} {med(lambda x: x['cpus'][0]):7.0f} {followers:>13}  {mode}",
                      flush=True)

        if "apply" in phases:
            c = new_cluster(start_server, root / "c-apply", store_args("flat", dim, False))
            r = apply_rate(c, texts, a.clients, phase * 4)
            print("\n== follower apply rate under sustained async load (flat, batches of 100)")
            print(f"leader ingest {r['leader']:.0f} frames/s; followers applied "
                  + ", ".join(f"{x:.0f}" for x in r["followers"]) + f" frames/s; largest lag {r['max_lag']} frames")
            c.close()
        if "failover" not in phases and "search" not in phases:
            return 0
        # replication_load's writers write 4-d records: the failover loop gets a cluster of its own.
        c = new_cluster(start_server, root / "c-failover", store_args("flat", 4, False))
        times = failovers(c, kills)
        print(f"\n== failover (lease TTL 2 s): kill -> first acknowledged write on the new leader, {kills} kills")
        print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s, all: "
              + " ".join(f"{t:.2f}" for t in times))
        c.close()

        index = indexes[-1]
        c = new_cluster(start_server, root / "c-search", store_args(index, dim, False))
        leader = c.wait_leader()
        for k in range(0, len(base), 500):
            requests.post(leader.url + "/vectors", json={"vectors": [
                {"id": i, "vector": base[i]} for i in range(k, min(k + 500, len(base)))]}, timeout=120).raise_for_status()
        c.wait_converged(timeout=300)
        order = [leader] + c.others(leader)
        for n in order:
            wait_linked(n.url)
        print(f"\n== search q/s ({index}, {len(base)} records, k 10, {a.clients * 2} client processes)")
        one = None
        for n in (1, 2, 3):
            qps = search_qps([x.url for x in order[:n]], queries, a.clients * 2, phase)
            one = one or qps
            print(f"{n} node(s) serving: {qps:8.0f} q/s ({qps / one:.2f}x; on machines of their own: up to {n}x)")
        c.close()
    finally:
        for s in servers:
            if s.running():
                s.kill()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write load and observation for the replication tests (cluster.py starts the processes).

- `record(i)`: the one content id i ever has (vector of quarters, exact in float32; metadata naming i), so a
  record found anywhere can be checked exactly, and ids are never reused.
- `Monitor`: a thread that scrapes GET /replication of every node every ~50 ms, keeps the samples, and names the
  current leader (with an epoch number that grows whenever the leader changes) for the writers.
- `Writer`: a thread that upserts fresh ids to the monitor's leader (or to one fixed node) and logs every answer
  with its send and receive times: acknowledged, refused (status and problem type) or unknown (transport error).
- `export(node)`, `lookup(node, ids)`: read a store whole, or by ids, through the HTTP API.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import requests

from cluster import Cluster, Node

DIM = 4


def record(i: int) -> dict:
    return {"id": i, "vector": [((i * 7 + k * 13) % 1024) / 4 - 128 for k in range(DIM)],
            "metadata": {"i": i, "g": f"g{i % 5}"}}


@dataclass
class Sample:
    sent: float        # monotonic time the request was sent
    node: str
    status: dict


class Monitor(threading.Thread):
    """Scrapes every node's GET /replication every `interval` s until stopped."""

    def __init__(self, cluster: Cluster, interval: float = 0.05):
        super().__init__(daemon=True)
        self.cluster, self.interval = cluster, interval
        self.samples: list[Sample] = []
        self.leader: Node | None = None
        self.epoch = 0
        self.leader_since: list[tuple[float, str, int]] = []  # (first seen, node, term) per epoch
        self.halt = threading.Event()
        self.session = requests.Session()

    def run(self) -> None:
        while not self.halt.is_set():
            found = []
            for node in self.cluster.nodes:
                t = time.monotonic()
                s = node.status(timeout=0.3, session=self.session)
                if s is not None:
                    self.samples.append(Sample(t, node.name, s))
                    if s["role"] == "leader":
                        found.append((s.get("term", 0), node))
            if found:
                term, node = max(found, key=lambda f: f[0])
                if node is not self.leader:
                    self.leader_since.append((time.monotonic(), node.name, term))
                    self.epoch += 1
                    self.leader = node
            elif self.leader is not None and not self.leader.running():
                self.leader = None
            self.halt.wait(self.interval)

    def stop(self) -> None:
        self.halt.set()
        self.join(5)

    def lag_samples(self, since: float, until: float, exclude: str) -> list[Sample]:
        return [s for s in self.samples if since <= s.sent <= until and s.node != exclude
                and s.status["role"] == "follower"]


@dataclass
class Answer:
    id: int
    node: str
    epoch: int
    sent: float
    received: float
    status: int | None          # None: transport error (timeout, reset): the outcome is unknown
    problem: str | None = None  # the problem type's slug of a refusal
    lsn: int | None = None


@dataclass
class Log:
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, a: Answer) -> None:
        with self.lock:
            self.answers.append(a)

    def acked(self) -> list[Answer]:
        return [a for a in self.answers if a.status == 200]


class Writer(threading.Thread):
    """Upserts one fresh id per request (`?durable=true` when durable) until stopped.

    target: a fixed Node, or None to follow monitor.leader. Ids come from `ids`, shared by the writers."""

    def __init__(self, ids: itertools.count, log: Log, monitor: Monitor | None = None, target: Node | None = None,
                 durable: bool = False, timeout: float = 2.0, batch: int = 1):
        super().__init__(daemon=True)
        self.ids, self.log, self.monitor, self.target = ids, log, monitor, target
        self.durable, self.timeout, self.batch = durable, timeout, batch
        self.halt = threading.Event()
        self.session = requests.Session()
        self.lock = threading.Lock()

    def run(self) -> None:
        path = "/vectors" + ("?durable=true" if self.durable else "")
        while not self.halt.is_set():
            node = self.target or (self.monitor.leader if self.monitor else None)
            if node is None or not node.running():
                self.halt.wait(0.02)
                continue
            epoch = self.monitor.epoch if self.monitor else 0
            with self.lock:
                batch = [next(self.ids) for _ in range(self.batch)]
            body = {"vectors": [record(i) for i in batch]}
            sent = time.monotonic()
            try:
                r = self.session.post(node.url + path, json=body, timeout=self.timeout)
            except requests.RequestException:
                now = time.monotonic()
                for i in batch:
                    self.log.add(Answer(i, node.name, epoch, sent, now, None))
                self.session.close()
                self.session = requests.Session()
                self.halt.wait(0.02)
                continue
            now = time.monotonic()
            slug, lsn = None, None
            try:
                payload = r.json()
                if r.status_code == 200:
                    lsn = payload["lsn"]
                else:
                    slug = str(payload.get("type", "")).removeprefix("urn:lynx:problem:")
            except ValueError:
                pass
            for i in batch:
                self.log.add(Answer(i, node.name, epoch, sent, now, r.status_code, slug, lsn))
            if r.status_code != 200:
                self.halt.wait(0.02)

    def stop(self) -> None:
        self.halt.set()


def start_load(cluster: Cluster, writers: int = 4, durable: bool = False, first_id: int = 1,
               timeout: float = 2.0) -> tuple[Monitor, Log, list[Writer]]:
    """A monitor and `writers` writers that follow its leader, started."""
    monitor = Monitor(cluster)
    monitor.start()
    log = Log()
    ids = itertools.count(first_id)
    ws = [Writer(ids, log, monitor, durable=durable, timeout=timeout) for _ in range(writers)]
    for w in ws:
        w.start()
    return monitor, log, ws


def wait_first_ack(log: Log, old: Node, since: float, timeout: float) -> float | None:
    """Seconds from `since` to the first acknowledgement by a node other than `old` of a write sent after it."""
    deadline = time.monotonic() + timeout
    while True:
        times = [a.received for a in log.acked() if a.node != old.name and a.sent >= since]
        if times:
            return min(times) - since
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def stop_all(threads) -> None:
    for t in threads:
        t.stop()
    for t in threads:
        t.join(20)


def lookup(node: Node, ids: list[int], prefix: str = "", timeout: float = 10.0) -> dict[int, dict]:
    """{id: record} for the ids that exist on node (POST /vectors/get, in chunks)."""
    found: dict[int, dict] = {}
    for k in range(0, len(ids), 5000):
        r = node.post(f"{prefix}/vectors/get", json={"ids": ids[k:k + 5000]}, timeout=timeout)
        assert r.status_code == 200, f"{node.name}: {r.status_code} {r.text[:300]}"
        for rec in r.json()["vectors"]:
            found[rec["id"]] = rec
    return found


def export(node: Node, prefix: str = "", timeout: float = 10.0) -> dict[int, dict]:
    """Every record of a store, paged in id order."""
    out: dict[int, dict] = {}
    after = None
    while True:
        q = "?limit=5000" + (f"&after={after}" if after is not None else "")
        r = node.get(f"{prefix}/vectors{q}", timeout=timeout)
        assert r.status_code == 200, f"{node.name}: {r.status_code} {r.text[:300]}"
        page = r.json()
        for rec in page["vectors"]:
            out[rec["id"]] = rec
        after = page["next_after"]
        if after is None:
            return out


def missing_or_wrong(node: Node, ids: list[int]) -> list[int]:
    """The ids whose record on node is absent or not record(id)."""
    found = lookup(node, ids)
    return [i for i in ids if found.get(i) != record(i)]

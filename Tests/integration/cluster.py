"""A replicated Lynx cluster for the tests: one real etcd and N real lynxd on 127.0.0.1 (docs: /tmp DESIGN, issue 14).

    def test_x(make_cluster):
        c = make_cluster(3, replication="sync", sync_replicas=1)   # etcd + n1..n3, waits for one leader
        leader = c.wait_leader()
        c.node("n2").kill(); c.node("n2").restart()
        c.wait_converged()

etcd: Debian's `etcd-server` (scripts/install-deps.sh --test installs it); without an `etcd` binary on PATH the
fixture skips with the reason printed. Each lynxd is started through conftest's `start_server`, so its log is
attached to a failing test's report; the etcd log lives beside them in the test's tmp_path.
Every wait here is bounded in time; HTTP calls to a node use short timeouts (a SIGSTOPped node never answers).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import requests

from lynx_helpers import LynxServer, free_port

POLL = 0.05
SHORT = 1.5  # seconds: the timeout of a status or read call to one node


def etcd_binary() -> str:
    binary = shutil.which("etcd")
    if not binary:
        reason = "etcd is not installed (Debian's etcd-server; scripts/install-deps.sh --test installs it)"
        print(f"\nskipped: {reason}")
        pytest.skip(reason)
    return binary


class Etcd:
    """One single-member etcd on free loopback ports, its data in `root`."""

    def __init__(self, root: Path):
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "etcd.log"
        self._log = open(self.log_path, "ab", buffering=0)
        argv = [etcd_binary(), "--name", "lynx-test", "--data-dir", str(root / "etcd-data"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"lynx-test={peer}", "--logger", "zap", "--log-level", "warn"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_healthy(20.0)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}\n{self.log_text()}")
            try:
                r = requests.get(self.url + "/health", timeout=1)
                if r.status_code == 200 and r.json().get("health") == "true":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(POLL)
        self.close()
        raise RuntimeError(f"etcd was not healthy within {timeout} s\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


class Node:
    """One lynxd of the cluster: a fixed name, port and data directory across restarts."""

    def __init__(self, cluster: "Cluster", name: str):
        self.cluster, self.name = cluster, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = cluster.root / name
        self.server: LynxServer | None = None
        self.paused = False
        self.session = requests.Session()

    # ---- lifecycle
    def argv(self) -> list[str]:
        c = self.cluster
        args = ["--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
                "--etcd-endpoints", c.etcd.url, "--cluster", c.name, "--node-name", self.name,
                "--advertise-url", self.url, "--lease-ttl", str(c.lease_ttl), "--replication", c.replication]
        if c.sync_replicas is not None:
            args += ["--sync-replicas", str(c.sync_replicas)]
        return args + [str(a) for a in c.extra_args]

    def start(self, wait: bool = True) -> "Node":
        # A restart right after a SIGKILL can find the port still held for a moment: try again, bounded.
        deadline = time.monotonic() + 10.0
        while True:
            self.server = self.cluster.start_server(defaults=False, data_dir=self.data_dir,
                                                    extra_args=self.argv(), wait=False)
            self.cluster.servers_of(self).append(self.server)
            try:
                self.server.wait_listening()
                break
            except RuntimeError:
                if time.monotonic() > deadline or "in use" not in self.server.log_text().lower():
                    raise
                time.sleep(0.2)
        self.paused = False
        if wait:
            self.wait_serving()
        return self

    def wait_serving(self, timeout: float = 30.0) -> dict:
        """Until GET /replication answers (the node knows its role)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.status()
            if s is not None:
                return s
            if not self.running():
                raise RuntimeError(f"{self.name} exited with {self.server.proc.returncode}\n{self.server.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: GET /replication did not answer 200 within {timeout} s")
            time.sleep(POLL)

    def running(self) -> bool:
        return self.server is not None and self.server.running()

    def kill(self) -> None:
        """SIGKILL and wait (a crash)."""
        if self.paused:
            self.resume()
        if self.server is not None:
            self.server.kill()

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets and state but runs nothing (a partition's stand-in). Returns once
        every thread of it is stopped (the signal takes effect asynchronously: a thread running on the other core
        can still answer a request that arrives meanwhile), so that what is sent after it returns is read only once
        the process runs again."""
        self.server.send_signal(signal.SIGSTOP)
        self.paused = True
        tasks = f"/proc/{self.server.proc.pid}/task"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                states = [open(f"{tasks}/{t}/stat").read().rsplit(")", 1)[1].split()[0] for t in os.listdir(tasks)]
            except FileNotFoundError:  # a thread ended between the listing and the read
                continue
            if all(state in ("T", "t") for state in states):
                return
            time.sleep(0.001)
        raise AssertionError(f"{self.name} did not stop within 5 s of SIGSTOP")

    def resume(self) -> None:
        self.server.send_signal(signal.SIGCONT)
        self.paused = False

    def restart(self, wait: bool = True) -> "Node":
        """Start again on the same data directory and port (after kill)."""
        assert not self.running(), f"{self.name} is still running"
        return self.start(wait=wait)

    def wipe(self) -> None:
        """Remove the data directory (the node must be stopped)."""
        assert not self.running(), f"{self.name} is still running"
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_text(self) -> str:
        """Every log of this node across its restarts, oldest first."""
        return "".join(s.log_text() for s in self.cluster.servers_of(self))

    # ---- HTTP
    def request(self, method: str, path: str, timeout: float = SHORT, **kw) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=timeout, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw) -> requests.Response:
        return self.request("POST", path, json=json, **kw)

    def status(self, timeout: float = SHORT, session: requests.Session | None = None) -> dict | None:
        """GET /replication, or None when the node does not answer 200 (down, paused, starting).
        A thread other than the test's passes a session of its own (a Session is not for sharing)."""
        if not self.running() or self.paused:
            return None
        try:
            r = (session or self.session).get(self.url + "/replication", timeout=timeout)
        except requests.RequestException:
            return None
        return r.json() if r.status_code == 200 else None

    def role(self) -> str | None:
        s = self.status()
        return s["role"] if s else None

    def __repr__(self) -> str:
        return f"Node({self.name}, {self.url})"


def stores_by_collection(status: dict) -> dict:
    """{collection: store entry} of a GET /replication answer; the top-level store (`collection` null) is
    "default", its name under /collections."""
    return {s["collection"] or "default": s for s in status["stores"]}


def default_store(status: dict) -> dict:
    return stores_by_collection(status)["default"]


class Cluster:
    """etcd plus nodes n1..nN under a unique cluster name (so no two tests share keys)."""

    def __init__(self, start_server: Callable[..., LynxServer], root: Path, n: int = 3, *,
                 replication: str = "async", sync_replicas: int | None = None, lease_ttl: int = 2,
                 extra_args: Iterable[Any] = ("--dimension", 4, "--metric", "l2", "--index", "flat")):
        self.start_server, self.root = start_server, root
        self.name = "t" + uuid.uuid4().hex[:10]
        self.replication, self.sync_replicas, self.lease_ttl = replication, sync_replicas, lease_ttl
        self.extra_args = list(extra_args)
        self.etcd = Etcd(root / "etcd")
        self.nodes = [Node(self, f"n{i + 1}") for i in range(n)]
        self._servers: dict[str, list[LynxServer]] = {}

    def start(self) -> "Cluster":
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_serving()
        return self

    def servers_of(self, node: Node) -> list[LynxServer]:
        return self._servers.setdefault(node.name, [])

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def others(self, node: Node) -> list[Node]:
        return [n for n in self.nodes if n is not node]

    def statuses(self, nodes: Iterable[Node] | None = None) -> dict[str, dict | None]:
        return {n.name: n.status() for n in (self.nodes if nodes is None else nodes)}

    def leaders(self, nodes: Iterable[Node] | None = None) -> list[Node]:
        """The answering nodes that report role leader."""
        nodes = list(self.nodes if nodes is None else nodes)
        found = self.statuses(nodes)
        return [n for n in nodes if found[n.name] and found[n.name]["role"] == "leader"]

    def wait_leader(self, timeout: float = 15.0, among: Iterable[Node] | None = None) -> Node:
        """Until exactly one of `among` (default: all) reports leader and every other answering one follows it
        (names it as leader). Returns the leader."""
        among = list(self.nodes if among is None else among)
        deadline = time.monotonic() + timeout
        last: dict = {}
        while True:
            last = self.statuses(among)
            leaders = [n for n in among if last[n.name] and last[n.name]["role"] == "leader"]
            if len(leaders) == 1:
                leader = leaders[0]
                if all(s is None or s["role"] == "leader" or (s["role"] == "follower" and s.get("leader")
                       and s["leader"]["node"] == leader.name) for s in last.values()):
                    return leader
            if time.monotonic() > deadline:
                raise AssertionError(f"no single leader among {[n.name for n in among]} within {timeout} s: {last}")
            time.sleep(POLL)

    def wait_converged(self, timeout: float = 20.0, nodes: Iterable[Node] | None = None) -> Node:
        """Until every store of every running node has the leader's last LSN (and the same set of stores).
        Returns the leader. Call it when writes have stopped."""
        nodes = [n for n in (self.nodes if nodes is None else nodes) if n.running() and not n.paused]
        deadline = time.monotonic() + timeout
        while True:
            leader = self.wait_leader(max(0.1, deadline - time.monotonic()), among=nodes)
            found = self.statuses(nodes)
            want = {k: s["last_lsn"] for k, s in stores_by_collection(found[leader.name]).items()} \
                if found[leader.name] else None
            have = {name: ({k: s["last_lsn"] for k, s in stores_by_collection(st).items()} if st else None)
                    for name, st in found.items()}
            if want is not None and all(h == want for h in have.values()):
                return leader
            if time.monotonic() > deadline:
                raise AssertionError(f"not converged within {timeout} s: leader {leader.name} has {want}, "
                                     f"nodes have {have}")
            time.sleep(POLL)

    def close(self) -> None:
        for node in self.nodes:
            if node.paused:
                node.resume()
            if node.running():
                node.server.kill()
            node.session.close()
        self.etcd.close()


@pytest.fixture
def make_cluster(start_server, tmp_path):
    """make_cluster(n=3, replication=..., sync_replicas=..., lease_ttl=2, extra_args=...) -> a started Cluster
    with one leader elected. Everything it started is killed at teardown."""
    etcd_binary()
    clusters: list[Cluster] = []

    def make(n: int = 3, wait_leader: bool = True, **kw) -> Cluster:
        c = Cluster(start_server, tmp_path / f"cluster{len(clusters) + 1}", n, **kw)
        clusters.append(c)
        c.start()
        if wait_leader:
            c.wait_leader()
        return c

    yield make
    for c in clusters:
        c.close()

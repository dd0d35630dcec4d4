"""Shared helpers for the lynxd integration tests: process control, HTTP, assertions.

Everything here talks to a real `lynxd` over real HTTP on 127.0.0.1.
"""
from __future__ import annotations

import math
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import requests

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "openapi" / "openapi.yaml"
DEFAULT_LYNXD = REPO / ".build" / "release" / "lynxd"
U64_MAX = 18446744073709551615
PROBLEM_MEDIA_TYPE = "application/problem+json"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 15.0

# The flags of the contract, in its order.
CONTRACT_FLAGS = [
    "--host", "--port", "--data-dir", "--dimension", "--metric", "--index",
    "--max-body-bytes", "--max-batch", "--max-connections", "--connection-timeout",
    "--threads", "--sync", "--sync-interval", "--checkpoint-wal-bytes",
    "--checkpoint-interval", "--hnsw-m", "--hnsw-ef-construction", "--hnsw-ef-search",
    "--ivf-clusters", "--ivf-n-probe", "--log-level",
    # added after the original contract
    "--wal", "--hnsw-seed", "--ivf-spill",
    "--index-threads", "--index-max-pending", "--index-pending-wait", "--shutdown-checkpoint-timeout",
    "--max-collections", "--max-metadata-bytes",
    # server limits and TLS (issue 13, part A)
    "--max-connections-per-ip", "--request-timeout", "--max-body-memory", "--tls-cert", "--tls-key",
    "--keep-backups",  # issue 13 item 8: online backup
    "--api-key", "--api-key-file", "--read-only-api-key", "--read-only-api-key-file",  # access control (issue 13 item 1)
    "--auth-metrics", "--allow-unauthenticated", "--min-free-disk-bytes", "--log-format",  # probes, logs (issue 13 items 1, 5, 6)
    # replication (issue 14)
    "--etcd-endpoints", "--cluster", "--node-name", "--advertise-url", "--replication", "--sync-replicas",
    "--sync-timeout", "--lease-ttl", "--replication-window-bytes",
]

LISTENING_RE = re.compile(r"listening on (https?)://(\[[^\]]+\]|[^\s:/\]]+):(\d+)")


def lynxd_path() -> Path:
    return Path(os.environ.get("LYNXD", str(DEFAULT_LYNXD)))


def rss_anon_kib(pid: int) -> int:
    """The process's anonymous resident memory (heap, mappings, stacks), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError(f"no RssAnon in /proc/{pid}/status")


def server_required() -> bool:
    """When true a missing binary is a failure, not a skip (CI, or asked for explicitly)."""
    return os.environ.get("LYNX_REQUIRE_SERVER") == "1" or os.environ.get("CI") == "true"


# --------------------------------------------------------------------------- HTTP


class TimeoutSession(requests.Session):
    """A requests.Session whose every request has a timeout unless one is given."""

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        # Explicitly, or requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override the session's own `verify`.
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, **kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def media_type(resp: requests.Response) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip().lower()


def raw_http(host: str, port: int, data: bytes, timeout: float = 10.0,
             read_all: bool = True) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one HTTP/1.x response (Content-Length or until close).

    Returns (status, headers with lower-case names, body).
    """
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no response head within {timeout}s; got {buf!r}")
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if read_all:
            want = int(headers.get("content-length", "-1"))
            while want < 0 or len(body) < want:
                if time.monotonic() > deadline:
                    break
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                body += chunk
        return status, headers, body


# --------------------------------------------------------------------------- process


class LynxServer:
    """One running lynxd process (see conftest.start_server)."""

    def __init__(self, argv: list[str], env: dict[str, str], data_dir: Path, log_path: Path,
                 verify: str | bool = True):
        self.argv = argv
        self.scheme = "http"
        # requests' `verify`: the CA file a TLS server's certificate is checked against.
        self.verify = verify
        self.data_dir = data_dir
        self.log_path = log_path
        self.host: str | None = None
        self.port: int | None = None
        self._listening = threading.Event()
        self._log = open(log_path, "ab", buffering=0)
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.PIPE, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._reader.start()
        self.session = TimeoutSession()
        self.session.verify = verify

    # stderr is read by one thread for the whole life of the process, so the pipe never fills.
    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, b""):
            self._log.write(line)
            if not self._listening.is_set():
                m = LISTENING_RE.search(line.decode("utf-8", "replace"))
                if m:
                    self.scheme = m.group(1)
                    self.host = m.group(2).strip("[]")
                    self.port = int(m.group(3))
                    self._listening.set()
        self.proc.stderr.close()

    def wait_listening(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._listening.wait(0.05):
                return
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise RuntimeError(
                    f"lynxd exited with {self.proc.returncode} before listening\n{self.log_text()}")
        self.kill()
        raise RuntimeError(f"lynxd did not print 'listening on http://HOST:PORT' within {timeout}s\n"
                           f"{self.log_text()}")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Waits until /health answers 200 (recovery done). Raises if lynxd dies or reports failure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lynxd exited with {self.proc.returncode} during recovery\n{self.log_text()}")
            try:
                r = requests.get(self.url("/health"), timeout=2, verify=self.verify)
                if r.status_code == 200:
                    return
                if r.status_code == 503 and r.json().get("status") == "failed":
                    raise RuntimeError(f"lynxd reports failure: {r.text}\n{self.log_text()}")
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"lynxd was not ready within {timeout}s\n{self.log_text()}")

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        if self.proc.poll() is not None:
            self._reader.join(5)  # an exited process's last lines are still on their way from the pipe
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "<no log>"

    # ---- HTTP shortcuts
    def request(self, method: str, path: str, **kw) -> requests.Response:
        return self.session.request(method, self.url(path), **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw) -> requests.Response:
        if json is not None:
            kw["json"] = json
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def post_raw(self, path: str, data: bytes | str, content_type: str | None = "application/json",
                 **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        if isinstance(data, str):
            data = data.encode("utf-8")
        return self.request("POST", path, data=data, headers=headers, **kw)

    def upsert(self, records: dict | list, durable: bool = False) -> dict:
        body = records if isinstance(records, dict) else {"vectors": records}
        r = self.post("/vectors" + ("?durable=true" if durable else ""), json=body)
        assert r.status_code == 200, f"upsert failed: {r.status_code} {r.text}"
        return r.json()

    def stats(self) -> dict:
        r = self.get("/stats")
        assert r.status_code == 200, r.text
        return r.json()

    def health(self) -> dict:
        r = self.get("/health")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_linked(self, timeout: float = 60.0, collection: str | None = None) -> dict:
        """Waits until the builder is settled (nothing pending, no consolidation due or running), of the default
        collection or of `collection`; returns the last health (or collection) answer."""
        deadline = time.monotonic() + timeout
        while True:
            if collection is None:
                h = self.health()
            else:
                r = self.get(f"/collections/{collection}")
                assert r.status_code == 200, r.text
                h = r.json()
            if not h["linking"]["behind"]:
                return h
            assert time.monotonic() < deadline, f"still {h['linking']['pending']} pending after {timeout} s"
            time.sleep(0.02)

    def raw(self, data: bytes, **kw) -> tuple[int, dict[str, str], bytes]:
        return raw_http(self.host, self.port, data, **kw)

    # ---- lifecycle
    def running(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = STOP_TIMEOUT, sig: int = signal.SIGTERM) -> int:
        """SIGTERM (or sig) and wait; returns the exit code. SIGKILLs if it does not exit in time."""
        self.session.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError(f"lynxd did not exit within {timeout}s of signal {sig}\n{self.log_text()}")
        self._reader.join(5)
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL (crash simulation) and wait."""
        self.session.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        self._reader.join(5)
        return self.proc.returncode

    def close_log(self) -> None:
        try:
            self._log.close()
        except OSError:
            pass


def run_lynxd(args: list[str], env: dict[str, str] | None = None, timeout: float = 15.0,
              cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run lynxd to completion (for --help and bad flags). Fails the test if it does not exit."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        return subprocess.run([str(lynxd_path()), *args], env=full_env, cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"lynxd {' '.join(args)} did not exit within {timeout}s "
                             f"(stderr so far: {e.stderr!r})") from None


# --------------------------------------------------------------------------- assertions


def assert_problem(resp: requests.Response, status: int, slug: str | Iterable[str] | None = None) -> dict:
    """The response is an RFC 9457 problem with this status (and slug, or one of these slugs)."""
    assert resp.status_code == status, (
        f"expected HTTP {status}, got {resp.status_code}: {resp.headers.get('Content-Type')} {resp.text[:500]}")
    assert media_type(resp) == PROBLEM_MEDIA_TYPE, (
        f"Content-Type is {resp.headers.get('Content-Type')!r}, expected {PROBLEM_MEDIA_TYPE}")
    body = resp.json()
    assert isinstance(body, dict), body
    for key, typ in (("type", str), ("title", str), ("status", int), ("detail", str)):
        assert key in body, f"problem lacks {key!r}: {body}"
        assert isinstance(body[key], typ) and not isinstance(body[key], bool), f"problem {key} has wrong type: {body}"
    assert body["status"] == resp.status_code, f"problem status {body['status']} != HTTP {resp.status_code}"
    assert body["title"].strip(), body
    assert body["detail"].strip(), body
    assert body["type"].startswith("urn:lynx:problem:"), body
    if slug is not None:
        slugs = [slug] if isinstance(slug, str) else list(slug)
        assert body["type"] in [f"urn:lynx:problem:{s}" for s in slugs], (
            f"problem type {body['type']!r}, expected one of {slugs}: {body}")
    return body


def state_snapshot(server: LynxServer, ids: Iterable[int] = ()) -> dict:
    """What a failed request must not change: count, write totals, the log's last lsn, some records."""
    stats = server.stats()
    health = server.health()
    snap = {
        "count": stats["count"],
        "inserts": stats["totals"]["inserts"],
        "deletes": stats["totals"]["deletes"],
        "last_lsn": health["wal"]["last_lsn"],
        "records": {},
    }
    for i in ids:
        r = server.get(f"/vectors/{i}")
        snap["records"][i] = (r.status_code, r.json() if r.status_code == 200 else None)
    return snap


def assert_unchanged(server: LynxServer, before: dict) -> None:
    after = state_snapshot(server, before["records"].keys())
    assert after == before, f"a failed request changed the store:\nbefore={before}\nafter={after}"


# --------------------------------------------------------------------------- math


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 (raises OverflowError past float32 range)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32v(v: Iterable[float]) -> list[float]:
    return [f32(x) for x in v]


def distance(metric: str, a: list[float], b: list[float]) -> float:
    """The contract's reported distance, computed in double from the float32-rounded inputs."""
    a, b = f32v(a), f32v(b)
    if metric == "l2":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    dot = sum(x * y for x, y in zip(a, b))
    if metric == "dot":
        return -dot
    if metric == "cosine":
        na = math.sqrt(sum(x * x for x in a))
        nb = math.sqrt(sum(y * y for y in b))
        return 1.0 - dot / (na * nb)
    raise ValueError(metric)


def close(a: float, b: float, rel: float = 1e-5, abs_: float = 1e-5) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def wait_until(pred, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Poll pred() until truthy or the deadline passes (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)

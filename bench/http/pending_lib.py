"""Shared helpers for the pending-tail benchmarks (imported, not run):
  bench/http/hnsw_ingest_vs_flat.py, bench/wal/restart_pending.py, bench/http/search_during_catchup.py.

Process control of lynxd (exec, port from the `listening on http://HOST:PORT` stderr line, /health polling,
SIGKILL / SIGTERM), pre-encoded JSON bodies of the dev set, a multi-connection batch loader (http.client,
one thread per keep-alive connection), single-query search timing and recall. 127.0.0.1 only; every loop
has a deadline. stdlib + numpy.
"""
import http.client
import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import numpy as np

DATA = os.environ.get("LYNX_BENCH_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data" / "dev"))
BIN = os.environ.get("LYNX_BIN", "/tmp/lynxd-bench")
TMP = os.environ.get("LYNX_BENCH_TMP", "/tmp")
LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def load1():
    return float(open("/proc/loadavg").read().split()[0])


def env_line(extra=""):
    busiest = subprocess.run("ps -eo pid,pcpu,comm --sort=-pcpu --no-headers | head -3", shell=True,
                             capture_output=True, text=True).stdout.split("\n")
    busiest = " ".join(":".join(reversed(l.split()[:2])) + ":" + (l.split()[2] if len(l.split()) > 2 else "")
                       for l in busiest if l.strip())
    import hashlib
    h = hashlib.sha256(open(BIN, "rb").read()).hexdigest()[:12] if os.path.exists(BIN) else "?"
    head = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "?"
    return (f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} bin={BIN} sha256={h} HEAD={head} "
            f"{os.cpu_count()} cores "
            f"loadavg={loadavg()} busiest: {busiest} {extra}")


def load_dev():
    meta = json.load(open(os.path.join(DATA, "meta.json")))
    n, nq, dim = meta["n"], meta["nq"], meta["dim"]
    base = np.fromfile(os.path.join(DATA, "base.f32"), "<f4").reshape(n, dim)
    q = np.fromfile(os.path.join(DATA, "queries.f32"), "<f4").reshape(nq, dim)
    gt = np.fromfile(os.path.join(DATA, "gt_l2.i32"), "<i4").reshape(nq, meta["k_gt"])
    return base, q, gt


def fmt_vec(row):
    # %.9g round-trips float32 exactly (checked once below in encode_rows).
    return ",".join(["%.9g" % v for v in row.tolist()])


def encode_rows(arr):
    rows = [fmt_vec(r) for r in arr]
    chk = np.array([float(x) for x in rows[0].split(",")], dtype=np.float32)
    assert chk.tobytes() == arr[0].astype(np.float32).tobytes(), "float formatting does not round-trip"
    return rows


def batch_bodies(rows, first_id, batch=100):
    """rows: list of formatted vectors; ids first_id..; returns [(n_records, body_bytes)]."""
    out = []
    for s in range(0, len(rows), batch):
        part = rows[s:s + batch]
        body = '{"vectors":[' + ",".join(
            f'{{"id":{first_id + s + j},"vector":[{v}]}}' for j, v in enumerate(part)) + "]}"
        out.append((len(part), body.encode()))
    return out


def search_bodies(qrows, k=10, ef=64):
    return [f'{{"vector":[{v}],"k":{k},"ef_search":{ef}}}'.encode() for v in qrows]


def conn(port, timeout=60):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def call(c, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, data


class Lynxd:
    """One lynxd process. start() returns at once; wait_ready() polls /health until 200."""

    def __init__(self, data_dir, flags, log_path=None):
        self.data_dir, self.flags = data_dir, list(flags)
        self.log_path = log_path or data_dir.rstrip("/") + ".log"
        self.proc, self.port = None, None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.log_offset = self.logf.tell()
        self.t_exec = time.perf_counter()
        self.proc = subprocess.Popen([BIN, "--port", "0", "--data-dir", self.data_dir] + self.flags,
                                     stdout=subprocess.DEVNULL, stderr=self.logf)
        self.port = None
        return self

    def _find_port(self):
        if self.port is None:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                m = LISTEN_RE.search(f.read().decode(errors="replace"))
            if m:
                self.port = int(m.group(1))
        return self.port

    def health(self, timeout=5):
        """(status, parsed body or None); (None, None) if not reachable."""
        if self._find_port() is None:
            return None, None
        c = conn(self.port, timeout)
        try:
            st, data = call(c, "GET", "/health")
            try:
                return st, json.loads(data)
            except ValueError:
                return st, None
        except OSError:
            return None, None
        finally:
            c.close()

    def wait_ready(self, poll=0.01, deadline_s=300):
        """Polls /health every `poll` s; returns (seconds since exec at the first 200, health body)."""
        end = time.perf_counter() + deadline_s
        while time.perf_counter() < end:
            st, h = self.health()
            if st == 200:
                return time.perf_counter() - self.t_exec, h
            if self.proc.poll() is not None:
                raise RuntimeError(f"lynxd exited {self.proc.returncode}: " + open(self.log_path).read()[-2000:])
            time.sleep(poll)
        raise RuntimeError("lynxd not ready in time")

    def wait_pending_zero(self, t_from, count=None, poll=0.02, deadline_s=600):
        """Polls /health every `poll` s until linking.pending == 0 (and count == `count` if given);
        returns (seconds since t_from, last health body, number of polls)."""
        end = time.perf_counter() + deadline_s
        polls = 0
        while time.perf_counter() < end:
            st, h = self.health()
            polls += 1
            if st == 200 and h and h["linking"]["pending"] == 0 and (count is None or h["count"] == count):
                return time.perf_counter() - t_from, h, polls
            time.sleep(poll)
        raise RuntimeError("pending did not reach 0 in time")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def term(self, timeout=120):
        """SIGTERM; returns seconds until the process has exited."""
        t = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("lynxd did not stop after SIGTERM in time")
        self.proc = None
        return time.perf_counter() - t, rc

    def stop_quiet(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.proc = None


def load_batches(port, bodies, conns=4, deadline_s=600):
    """POSTs the pre-encoded batches over `conns` keep-alive connections (one thread each, batch i on connection
    i % conns, so each connection carries an equal share). Returns (t_first_send, t_last_ack, records, statuses
    other than 200 as {status: count}). Fails loudly on a non-200."""
    errors = {}
    lock = threading.Lock()
    t_first = [None]
    t_last = [0.0]
    start = threading.Barrier(conns + 1)
    end = time.perf_counter() + deadline_s

    def worker(k):
        c = conn(port, 120)
        c.connect()
        start.wait()
        with lock:
            if t_first[0] is None:
                t_first[0] = time.perf_counter()
        for i in range(k, len(bodies), conns):
            if time.perf_counter() > end:
                with lock:
                    errors["deadline"] = errors.get("deadline", 0) + 1
                break
            try:
                st, data = call(c, "POST", "/vectors", bodies[i][1])
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors["exception"] = repr(e)[:200]
                break
            if st != 200:
                with lock:
                    errors[st] = errors.get(st, 0) + 1
                    errors.setdefault("first", data[:200].decode(errors="replace"))
        t = time.perf_counter()
        with lock:
            t_last[0] = max(t_last[0], t)
        c.close()

    th = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in th:
        t.start()
    start.wait()
    for t in th:
        t.join()
    if errors:
        raise RuntimeError(f"load errors: {errors}")
    return t_first[0], t_last[0], sum(n for n, _ in bodies)


def run_queries(port, qbodies, idx):
    """One keep-alive connection, one query at a time, over query indices `idx`.
    Returns (latencies_s list, found id lists)."""
    c = conn(port, 60)
    lat, found = [], []
    for i in idx:
        t = time.perf_counter()
        st, data = call(c, "POST", "/search", qbodies[i])
        lat.append(time.perf_counter() - t)
        if st != 200:
            raise RuntimeError(f"search {st}: {data[:200]!r}")
        found.append([r["id"] for r in json.loads(data)["results"]])
    c.close()
    return lat, found


def recall(found, gt_rows, k=10):
    return sum(len(set(f[:k]) & set(int(x) for x in g[:k])) for f, g in zip(found, gt_rows)) / (k * len(gt_rows))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def exact_l2_topk(q, X, k=100):
    """Exact top-k by squared L2 in float64, ties broken by lower id (as meta.json says gt_l2 was built)."""
    q64, X64 = q.astype(np.float64), X.astype(np.float64)
    d = (q64 ** 2).sum(1)[:, None] - 2 * q64 @ X64.T + (X64 ** 2).sum(1)[None, :]
    out = np.empty((len(q), k), dtype=np.int64)
    ids = np.arange(X.shape[0])
    for i in range(len(q)):
        part = np.argpartition(d[i], k)[:k + 1] if k + 1 < X.shape[0] else np.arange(X.shape[0])
        order = np.lexsort((ids[part], d[i][part]))
        out[i] = part[order][:k]
    return out


def scratch_dir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=TMP)


def rm(path):
    shutil.rmtree(path, ignore_errors=True)
    for p in (path.rstrip("/") + ".log",):
        if os.path.exists(p) and os.environ.get("LYNX_BENCH_KEEP") != "1":
            os.remove(p)

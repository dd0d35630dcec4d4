"""Memory after an ingest against memory after a restart (issue 21, item 5).

For each lynxd binary given (alternating, same run) and each `--index-threads` mode: start lynxd on a fresh data
directory (HNSW, l2), ingest N vectors over HTTP in batches of 500 (one keep-alive connection), wait until /health
says linking is not behind, wait a few seconds, read `RssAnon` from /proc/PID/status; then SIGKILL, restart, wait
until ready and linked, read it again; then SIGTERM (a clean stop with its checkpoint), restart, read it again.
Prints bytes per vector (RssAnon / N) of each and the ratio of the ingest's to the clean restart's.

    /work/main/.venv-test/bin/python bench/memory/ingest_rss.py BIN [BIN ...] [--n 50000] [--modes default,0]
        [--data dev|synthetic] [--rounds 1] [--dimension 384]

Data: `dev` is ../shared/data/dev (20,000 base and 500 query rows of real 384-d embeddings); past its rows it
cycles them with a small jitter, renormalised (said in the output). `synthetic` is a clustered set (unit vectors
around 1,000 random centres), generated batch by batch so 1M does not sit in the client's memory.
Every wait is bounded (`--ingest-timeout`, `--link-timeout`); a run past one is reported as such, not hung.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev"
BATCH = 500


class Timeout(Exception):
    pass


# --------------------------------------------------------------------------- data


class Data:
    """Row batches, generated on demand (deterministic)."""

    def __init__(self, kind: str, n: int, dim: int, seed: int = 21):
        self.kind, self.n, self.dim, self.seed = kind, n, dim, seed
        self.note = ""
        if kind == "dev":
            dev = Path(os.environ.get("LYNX_DEV_DATA", DEV))
            files = [dev / "base.f32", dev / "queries.f32"]
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                raise SystemExit(f"skipped: the dev data is absent ({', '.join(missing)}); use --data synthetic")
            if dim != 384:
                raise SystemExit("the dev data is 384-d: pass --dimension 384 or --data synthetic")
            self.real = np.concatenate([np.fromfile(f, dtype="<f4").reshape(-1, 384) for f in files])
            if n > len(self.real):
                self.note = (f"dev: {len(self.real)} real rows, cycled with a jitter (sigma 0.02 per dimension, "
                             f"renormalised) for the other {n - len(self.real)}")
            else:
                self.note = f"dev: {n} real rows"
        elif kind == "synthetic":
            rng = np.random.default_rng(seed)
            self.centres = rng.standard_normal((1000, dim)).astype(np.float32)
            self.centres /= np.linalg.norm(self.centres, axis=1, keepdims=True)
            self.note = f"synthetic: {n} unit vectors around 1,000 centres, {dim}-d"
        else:
            raise SystemExit(f"unknown --data {kind}")

    def batch(self, start: int, count: int) -> np.ndarray:
        if self.kind == "dev":
            rows = np.arange(start, start + count)
            out = self.real[rows % len(self.real)].copy()
            cycled = rows >= len(self.real)
            if cycled.any():
                rng = np.random.default_rng([self.seed, start])
                out[cycled] += rng.normal(0, 0.02, (int(cycled.sum()), self.dim)).astype(np.float32)
                out[cycled] /= np.linalg.norm(out[cycled], axis=1, keepdims=True)
            return out
        rng = np.random.default_rng([self.seed, start])
        centre = self.centres[rng.integers(0, len(self.centres), count)]
        out = centre + rng.normal(0, 0.35 / np.sqrt(self.dim), (count, self.dim)).astype(np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def body(ids_from: int, vectors: np.ndarray) -> bytes:
    rows = ",".join(
        '{"id":%d,"vector":[%s]}' % (ids_from + i, ",".join(map(repr, v.tolist())))
        for i, v in enumerate(vectors))
    return ('{"vectors":[' + rows + "]}").encode()


# --------------------------------------------------------------------------- lynxd


class Server:
    def __init__(self, binary: str, data_dir: str, dim: int, threads: str, log, extra: list[str] | None = None):
        self.binary, self.data_dir, self.dim, self.threads, self.log = binary, data_dir, dim, threads, log
        self.extra = extra or []
        self.proc = None
        self.port = 0
        self.session = requests.Session()

    def start(self, timeout: float = 30) -> None:
        argv = [self.binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", self.data_dir,
                "--dimension", str(self.dim), "--index", "hnsw", "--metric", "l2"]
        if self.threads != "default":
            argv += ["--index-threads", self.threads]
        argv += self.extra
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                threading.Thread(target=lambda p=self.proc: [self.log.write(x) for x in p.stderr], daemon=True).start()
                return
        raise RuntimeError(f"lynxd did not start (see {self.log.name})")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def health(self) -> tuple[int, dict]:
        r = self.session.get(self.url("/health"), timeout=30)
        return r.status_code, (r.json() if r.headers.get("content-type", "").startswith("application/json") else {})

    def wait_ready_and_linked(self, timeout: float) -> float:
        """Waits for 200 and linking not behind; returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            try:
                status, h = self.health()
                if status == 200 and not h["linking"]["behind"]:
                    return time.monotonic() - t0
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() - t0 > timeout:
                raise Timeout(f"not ready and linked after {timeout:.0f} s")
            time.sleep(0.05)

    def upsert(self, data: bytes, deadline: float) -> None:
        while True:
            r = self.session.post(self.url("/vectors"), data=data, headers={"content-type": "application/json"},
                                  timeout=120)
            if r.status_code == 200:
                return
            if r.status_code != 503:
                raise RuntimeError(f"upsert: {r.status_code} {r.text[:300]}")
            if time.monotonic() > deadline:
                raise Timeout("ingest deadline passed")
            time.sleep(float(r.headers.get("retry-after", "0.2")))

    def rss_anon(self) -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"^RssAnon:\s+(\d+) kB", text, re.M).group(1)) * 1024

    def stop(self, sig: int, timeout: float = 120) -> None:
        self.session.close()
        self.session = requests.Session()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- one run


def one_run(binary: str, mode: str, data: Data, args, log) -> dict:
    root = tempfile.mkdtemp(prefix="lynx-rss-", dir=args.tmp)
    out = {"binary": binary, "mode": mode}
    srv = Server(binary, os.path.join(root, "data"), data.dim, mode, log)
    try:
        srv.start()
        srv.wait_ready_and_linked(30)
        out["empty"] = srv.rss_anon()
        t0 = time.monotonic()
        deadline = t0 + args.ingest_timeout
        for start in range(0, data.n, BATCH):
            count = min(BATCH, data.n - start)
            srv.upsert(body(start, data.batch(start, count)), deadline)
            if time.monotonic() > deadline:
                raise Timeout(f"ingest deadline passed at {start + count} records")
        out["ingest_s"] = time.monotonic() - t0
        out["link_s"] = srv.wait_ready_and_linked(args.link_timeout)
        time.sleep(args.settle)
        out["ingest"] = srv.rss_anon()
        for label, sig in (("kill", signal.SIGKILL), ("term", signal.SIGTERM)):
            srv.stop(sig)
            t1 = time.monotonic()
            srv.start()
            srv.wait_ready_and_linked(args.link_timeout)
            out[f"{label}_ready_s"] = time.monotonic() - t1
            time.sleep(args.settle)
            out[label] = srv.rss_anon()
        _, h = srv.health()
        assert h["count"] == data.n, f"count {h['count']} after the restarts, expected {data.n}"
        srv.stop(signal.SIGTERM)
    except Timeout as e:
        out["timeout"] = str(e)
        if srv.proc and srv.proc.poll() is None:
            out.setdefault("ingest", srv.rss_anon())
            srv.stop(signal.SIGKILL)
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
    return out


def show(r: dict, n: int) -> str:
    def per(key):
        return f"{r[key] / n:7.0f}" if key in r else "      -"
    text = (f"{r['binary']:<36} threads {r['mode']:<7} "
            f"bytes/vector: ingest {per('ingest')}  after SIGKILL {per('kill')}  after SIGTERM {per('term')}")
    if "ingest" in r and "term" in r:
        text += f"  ingest/restart {r['ingest'] / r['term']:.2f}"
    if "ingest_s" in r:
        text += f"  (ingest {r['ingest_s']:.0f} s, link {r.get('link_s', 0):.0f} s, empty {r['empty'] / 2**20:.0f} MiB)"
    if "timeout" in r:
        text += f"  TIMEOUT: {r['timeout']}"
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binaries", nargs="+")
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--modes", default="default,0", help="--index-threads values, comma-separated ('default': unset)")
    p.add_argument("--data", default="dev", choices=["dev", "synthetic"])
    p.add_argument("--dimension", type=int, default=384)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--settle", type=float, default=3.0, help="seconds between linked and the reading")
    p.add_argument("--ingest-timeout", type=float, default=1800)
    p.add_argument("--link-timeout", type=float, default=1800)
    p.add_argument("--tmp", default=None, help="where the data directories go (default: the system's)")
    p.add_argument("--json", help="append each run's figures to this file, one JSON object a line")
    args = p.parse_args()
    data = Data(args.data, args.n, args.dimension)
    print(f"N {args.n}, batches of {BATCH}, {data.note}; RssAnon read {args.settle:.0f} s after linked", flush=True)
    log = open(os.path.join(tempfile.gettempdir(), "ingest_rss.lynxd.log"), "a")
    results = []
    for rnd in range(args.rounds):
        for mode in args.modes.split(","):
            bins = args.binaries if rnd % 2 == 0 else list(reversed(args.binaries))
            for b in bins:
                r = one_run(b, mode, data, args, log)
                r.update(round=rnd, n=args.n, data=args.data)
                results.append(r)
                print(f"round {rnd}: " + show(r, args.n), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r) + "\n")
    if len(args.binaries) > 1:
        print("ratios to the first binary's (same round, same mode), bytes per vector after the ingest:")
        for r in results:
            if r["binary"] == args.binaries[0] or "ingest" not in r:
                continue
            base = next((x for x in results if x["binary"] == args.binaries[0] and x["mode"] == r["mode"]
                         and x["round"] == r["round"] and "ingest" in x), None)
            if base:
                print(f"  round {r['round']} threads {r['mode']}: {r['binary']} / {args.binaries[0]} = "
                      f"{r['ingest'] / base['ingest']:.2f}")
    sys.exit(0)


if __name__ == "__main__":
    main()

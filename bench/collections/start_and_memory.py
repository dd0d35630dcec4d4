"""Collections at scale: for 1, 100 and 1,000 collections (besides default) in one lynxd, the time to create them
over HTTP, the process's threads and resident memory once they hold a few records each, and the time until
/health is 200 after a clean restart (SIGTERM) and after a SIGKILL. Ratios are against the run with one
collection, measured in the same run.

    python bench/collections/start_and_memory.py [counts...]      (LYNX_BIN: the lynxd to run)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

LYNXD = os.environ.get("LYNX_BIN", ".build/release/lynxd")
RECORDS = 10


def request(port: int, method: str, path: str, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"content-type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(data_dir: str, log) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([LYNXD, "--port", "0", "--data-dir", data_dir, "--dimension", "8", "--index", "flat"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        log.write(line)
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            # keep draining stderr so lynxd never blocks on a full pipe
            import threading
            threading.Thread(target=lambda: [log.write(l) for l in proc.stderr], daemon=True).start()
            return proc, port
    raise RuntimeError("lynxd did not start")


def wait_ready(port: int, since: float) -> float:
    while True:
        try:
            status, _ = request(port, "GET", "/health", timeout=5)
            if status == 200:
                return time.monotonic() - since
        except OSError:
            pass
        time.sleep(0.005)


def proc_status(pid: int) -> tuple[int, float]:
    text = open(f"/proc/{pid}/status").read()
    threads = int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1))
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024
    return threads, rss


def one(count: int, log) -> dict:
    root = tempfile.mkdtemp(prefix=f"lynx-colls-{count}-")
    data_dir = os.path.join(root, "data")
    try:
        proc, port = start(data_dir, log)
        wait_ready(port, time.monotonic())
        t0 = time.monotonic()
        for i in range(count):
            kind = ("flat", "hnsw")[i % 2]
            status, body = request(port, "PUT", f"/collections/c{i}", {"dimension": 8, "index": kind})
            assert status == 201, body
        create_s = time.monotonic() - t0
        for i in range(count):
            recs = [{"id": j, "vector": [float(i), float(j)] + [0.25] * 6} for j in range(RECORDS)]
            status, body = request(port, "POST", f"/collections/c{i}/vectors", {"vectors": recs})
            assert status == 200, body
        time.sleep(1)
        threads, rss = proc_status(proc.pid)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        stop_s = time.monotonic() - t
        t = time.monotonic()
        proc, port = start(data_dir, log)
        clean_s = wait_ready(port, t)
        threads_after, rss_after = proc_status(proc.pid)
        proc.kill()
        proc.wait()
        t = time.monotonic()
        proc, port = start(data_dir, log)
        kill_s = wait_ready(port, t)
        status, body = request(port, "GET", "/collections")
        assert len(json.loads(body)["collections"]) == count + 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        return {"count": count, "create_s": create_s, "threads": threads, "rss_mb": rss, "stop_s": stop_s,
                "clean_start_s": clean_s, "kill_start_s": kill_s, "threads_restarted": threads_after,
                "rss_restarted_mb": rss_after}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    counts = [int(a) for a in sys.argv[1:]] or [1, 100, 1000]
    with open("/tmp/lynx-collections-bench.log", "w") as log:
        rows = [one(c, log) for c in counts]
    base = rows[0]
    print(f"lynxd {LYNXD}; {RECORDS} records of 8-d per collection, half Flat, half HNSW; ratios vs {base['count']} collection(s)")
    print(f"{'collections':>11} {'create s':>9} {'threads':>8} {'RSS MiB':>8} {'stop s':>7} {'start s (clean)':>16} {'start s (kill)':>15} "
          f"{'RSS MiB restarted':>18} {'RSS/base':>9} {'threads/base':>13}")
    for r in rows:
        print(f"{r['count']:>11} {r['create_s']:>9.2f} {r['threads']:>8} {r['rss_mb']:>8.1f} {r['stop_s']:>7.2f} "
              f"{r['clean_start_s']:>16.3f} {r['kill_start_s']:>15.3f} {r['rss_restarted_mb']:>18.1f} "
              f"{r['rss_mb'] / base['rss_mb']:>9.2f} {r['threads'] / base['threads']:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

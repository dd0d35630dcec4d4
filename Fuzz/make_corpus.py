#!/usr/bin/env python3
"""Makes the fuzzers' seed corpora (Fuzz/corpus/<target>/seed-*) from real outputs of a real lynxd: the JSON bodies
it is sent, the write-ahead logs it writes and the snapshots its checkpoints write, for a Flat, an HNSW and an IVF
store with metadata, a metadata index, replacements and deletes.

    LYNXD=.build/release/lynxd python3 Fuzz/make_corpus.py

WAL and snapshot seeds get the fuzz targets' leading mode byte (Fuzz/wal/main.swift, Fuzz/snapshot/main.swift);
a log's preallocated zeros after its last frame are cut off (the reader treats them as the end anyway).
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "Fuzz" / "corpus"


def request(base, method, path, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def frames(log: bytes) -> bytes:
    """The log up to the end of its last frame (header 40 bytes, then 32-byte frame headers + payloads)."""
    off = 40
    while off + 32 <= len(log) and log[off:off + 32] != bytes(32):
        off += 32 + int.from_bytes(log[off:off + 4], "little")
    return log[:min(off, len(log))]


def main() -> int:
    lynxd = os.environ.get("LYNXD", str(ROOT / ".build" / "release" / "lynxd"))
    rng = random.Random(13)
    bodies: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc = subprocess.Popen([lynxd, "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data), "--dimension", "4",
                                 "--index", "flat", "--index-threads", "0"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            port = None
            for line in proc.stderr:
                m = re.search(r"listening on http://[^:]+:(\d+)", line)
                if m:
                    port = int(m.group(1))
                    break
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                if request(base, "GET", "/health") == 200:
                    break
                time.sleep(0.05)

            def send(method, path, body):
                raw = json.dumps(body).encode()
                bodies.append(raw)
                status = request(base, method, path, raw)
                assert status < 500, (path, status)
                return status

            for name, index in [("f", "flat"), ("h", "hnsw"), ("i", "ivf")]:
                prefix = "" if name == "f" else f"/collections/{name}"
                if name != "f":
                    send("PUT", prefix, {"dimension": 4, "index": index, "metric": "cosine" if name == "h" else "l2"})
                send("PUT", prefix + "/indexes/year", {"type": "integer"})
                records = [{"id": i, "vector": [round(rng.uniform(-1, 1), 6) for _ in range(4)],
                            "metadata": {"year": 2000 + i % 7, "lang": rng.choice(["en", "de"]), "tags": [i, "x"]}}
                           for i in range(1, 41)]
                send("POST", prefix + "/vectors", {"vectors": records[:30]})
                request(base, "POST", prefix + "/checkpoint")
                for r in records[30:]:
                    send("POST", prefix + "/vectors", r)
                send("POST", prefix + "/vectors/delete", {"ids": [2, 4, 6]})
                send("POST", prefix + "/vectors/delete", {"filter": {"year": {"$lt": 2001}}})
                send("POST", prefix + "/search", {"vector": [0.1, 0.2, 0.3, 0.4], "k": 5, "filter": {"lang": "en"},
                                                  "include": ["metadata"]})
                send("POST", prefix + "/search/batch", {"queries": [[1, 0, 0, 0], [0, 1, 0, 0.5]], "k": 3})
                send("POST", prefix + "/count", {"filter": {"$or": [{"lang": "de"}, {"year": {"$gte": 2004}}]}})
                send("POST", prefix + "/vectors/get", {"ids": [1, 3, 5], "include": ["vector", "metadata"]})
        finally:
            proc.terminate()
            proc.wait(30)
        for target in ("json", "wal", "snapshot"):
            d = CORPUS / target
            d.mkdir(parents=True, exist_ok=True)
            for old in d.glob("seed-*"):
                old.unlink()
        for i, b in enumerate(bodies):
            (CORPUS / "json" / f"seed-body-{i:03d}").write_bytes(b)
        logs = sorted(data.rglob("wal-*.log"))
        snaps = sorted(data.rglob("snapshot-*.lsnap"))
        for i, path in enumerate(logs):
            content = frames(path.read_bytes())
            if len(content) > 40:
                (CORPUS / "wal" / f"seed-{i:02d}").write_bytes(bytes([i % 2]) + content)
        for i, path in enumerate(snaps):
            (CORPUS / "snapshot" / f"seed-{i:02d}").write_bytes(bytes([(i % 2) * 2]) + path.read_bytes())
        print(f"{len(bodies)} JSON bodies, {len(logs)} logs, {len(snaps)} snapshots")
    return 0


if __name__ == "__main__":
    sys.exit(main())

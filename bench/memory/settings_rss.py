"""Resident memory, recall and restart of one store per vector setting (issue 21: codes and vectors on disk).

For each setting (alternated round by round, one lynxd each): start lynxd on a fresh data directory (HNSW, l2,
the setting's flags), ingest N vectors over HTTP in batches of 500, wait until linked, checkpoint (an on_disk store
maps its vectors then), wait a few seconds, read `RssAnon`; search the queries over HTTP (k 10) at each ef and print
recall@10 against brute-force ground truth and q/s (one client); then SIGKILL, restart, and print the seconds to
ready and `RssAnon` again. Bytes per vector are RssAnon / N; "net" subtracts the empty process's RssAnon.

    /work/main/.venv-test/bin/python bench/memory/settings_rss.py BIN [--n 20000] [--rounds 1]
        [--settings none,sq8,sq8+on_disk] [--efs 64,128] [--data dev|synthetic]

A setting is '+'-joined: none | sq8 | rabitq:B, and on_disk. Data as in ingest_rss.py (../shared/data/dev, cycled
with a jitter past its 20,500 rows, or clustered synthetic); queries are the dev queries (or synthetic ones), ground
truth computed here by brute force. Every wait is bounded.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_rss import BATCH, DEV, Data, Server, body  # noqa: E402


def flags(setting: str) -> list[str]:
    out = []
    for part in setting.split("+"):
        if part == "on_disk":
            out.append("--on-disk")
        elif part != "none":
            out += ["--quantization", part]
    return out


def queries(data: Data, count: int = 500) -> np.ndarray:
    if data.kind == "dev":
        return np.fromfile(DEV / "queries.f32", dtype="<f4").reshape(-1, 384)[:count]
    return data.batch(data.n + 10_000_000, count)  # the same mixture, rows no store holds


def ground_truth(data: Data, q: np.ndarray, k: int = 10) -> np.ndarray:
    best_d = np.full((len(q), k), np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), k), dtype=np.int64)
    qn = (q * q).sum(1, keepdims=True)
    for start in range(0, data.n, 50_000):
        # Row by row as the ingest made them: a synthetic batch depends on its start and size.
        x = np.concatenate([data.batch(b, min(BATCH, data.n - b)) for b in range(start, min(start + 50_000, data.n), BATCH)])
        d = qn - 2 * q @ x.T + (x * x).sum(1)[None, :]
        d_all = np.concatenate([best_d, d], axis=1)
        i_all = np.concatenate([best_i, np.arange(start, start + len(x))[None, :].repeat(len(q), 0)], axis=1)
        top = np.argsort(d_all, axis=1)[:, :k]
        best_d, best_i = np.take_along_axis(d_all, top, 1), np.take_along_axis(i_all, top, 1)
    return best_i


def search(srv: Server, q: np.ndarray, ef: int, truth: np.ndarray) -> tuple[float, float]:
    hits, t0 = 0, time.monotonic()
    for i, v in enumerate(q):
        r = srv.session.post(srv.url("/search"), json={"vector": v.tolist(), "k": 10, "ef_search": ef}, timeout=30)
        r.raise_for_status()
        hits += len(set(truth[i].tolist()) & {h["id"] for h in r.json()["results"]})
    return hits / (10 * len(q)), len(q) / (time.monotonic() - t0)


def one_run(binary: str, setting: str, data: Data, q, truth, args, log) -> dict:
    root = tempfile.mkdtemp(prefix="lynx-settings-", dir=args.tmp)
    out = {"setting": setting}
    srv = Server(binary, os.path.join(root, "data"), data.dim, "default", log, extra=flags(setting))
    try:
        srv.start()
        srv.wait_ready_and_linked(30)
        out["empty"] = srv.rss_anon()
        t0 = time.monotonic()
        for start in range(0, data.n, BATCH):
            srv.upsert(body(start, data.batch(start, min(BATCH, data.n - start))), t0 + args.timeout)
        out["ingest_s"] = time.monotonic() - t0
        out["link_s"] = srv.wait_ready_and_linked(args.timeout)
        r = srv.session.post(srv.url("/checkpoint"), json={}, timeout=args.timeout)
        r.raise_for_status()
        time.sleep(args.settle)
        out["rss"] = srv.rss_anon()
        stats = srv.session.get(srv.url("/stats"), timeout=30).json()
        out["mapped"] = stats["memory"].get("mapped_vector_bytes", 0)
        out["search"] = {ef: search(srv, q, ef, truth) for ef in args.efs}
        srv.stop(signal.SIGKILL)
        t1 = time.monotonic()
        srv.start()
        srv.wait_ready_and_linked(args.timeout)
        out["restart_s"] = time.monotonic() - t1
        time.sleep(args.settle)
        out["rss_restart"] = srv.rss_anon()
        srv.stop(signal.SIGTERM)
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--settings", default="none,sq8,sq8+on_disk")
    p.add_argument("--efs", default="64,128")
    p.add_argument("--data", default="dev", choices=["dev", "synthetic"])
    p.add_argument("--dimension", type=int, default=384)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--tmp", default=None)
    args = p.parse_args()
    args.efs = [int(x) for x in args.efs.split(",")]
    data = Data(args.data, args.n, args.dimension)
    q = queries(data)
    truth = ground_truth(data, q)
    settings = args.settings.split(",")
    print(f"N {args.n}, {data.note}; {len(q)} queries, k 10, one client; RssAnon {args.settle:.0f} s after the "
          f"checkpoint and after a SIGKILL restart", flush=True)
    log = open(os.path.join(tempfile.gettempdir(), "settings_rss.lynxd.log"), "a")
    for rnd in range(args.rounds):
        results = {}
        for s in (settings if rnd % 2 == 0 else list(reversed(settings))):
            r = results[s] = one_run(args.binary, s, data, q, truth, args, log)
            net = (r["rss"] - r["empty"]) / args.n
            line = (f"round {rnd}: {s:<16} RssAnon/vector {r['rss'] / args.n:6.0f} (net {net:6.0f})  after SIGKILL "
                    f"{r['rss_restart'] / args.n:6.0f}  mapped {r['mapped'] / args.n:5.0f}  ingest {r['ingest_s']:.0f} s "
                    f"link {r['link_s']:.0f} s  restart {r['restart_s']:.2f} s")
            for ef, (recall, qps) in r["search"].items():
                line += f"  ef {ef}: recall {recall:.4f} {qps:.0f} q/s"
            print(line, flush=True)
        base = results.get(settings[0])
        if base:
            for s, r in results.items():
                if s != settings[0]:
                    print(f"  round {rnd}: {s} / {settings[0]}: RssAnon {r['rss'] / base['rss']:.2f}, net "
                          f"{(r['rss'] - r['empty']) / (base['rss'] - base['empty']):.2f}, after SIGKILL "
                          f"{r['rss_restart'] / base['rss_restart']:.2f}", flush=True)


if __name__ == "__main__":
    main()

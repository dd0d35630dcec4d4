#!/usr/bin/env python3
"""Restart of an HNSW store whose 40,000 records are all in the log (SIGKILL, replay into the pending tail)
vs a clean restart (SIGTERM: drain, sync, shutdown checkpoint) vs Chroma's restart of the same 40,000 vectors.

Lynx, per round (fresh data dir each round):
  1. lynxd --index hnsw --dimension 384 --checkpoint-wal-bytes 4294967296 --checkpoint-interval 86400 (defaults
     otherwise; no checkpoint while loading). Load 40,000 records: ids 0-19,999 = dev base vectors, ids
     20,000-39,999 = the same vectors * -1; POST /vectors batches of 100 over 4 keep-alive connections.
  2. SIGKILL right after the last acknowledgement. Restart: seconds from exec to the first GET /health 200
     (polled every 10 ms), pending at that moment, and seconds from exec until linking.pending == 0 (10 ms polls).
  3. SIGTERM: seconds until the process has exited (drain + sync + shutdown checkpoint of the linked store).
  4. Restart: seconds from exec to the first /health 200 (and the pending / count it reports).
  Ratio kill/clean = (2) / (4) (goal <= 2).
Chroma (chromadb from /tmp/peers-venv, server started and measured with the Server class and load() of
../shared/bench/peers/bench_chroma.py; collection hnsw l2, max_neighbors 16, ef_construction 200):
  once: add the same 40,000 vectors in batches of 100, SIGKILL right after the last ack, start: seconds to the
  first heartbeat and to the first query answered, count (an extra, not what bench_chroma.py measures);
  each round after Lynx's: start -> heartbeat -> first query answered (the restart bench_chroma.py measures),
  then SIGTERM (stop seconds). Chroma is stopped while Lynx runs.
  Ratio Lynx-after-kill (exec -> /health 200) / Chroma restart (start -> first query answered; also printed
  against start -> heartbeat). Goal <= 0.5.
One JSON line per measurement, a summary line with medians. Load average on every line.

  bench/wal/restart_pending.sh [ROUNDS=2]          (wrapper; runs this with /tmp/peers-venv/bin/python)
"""
import json
import os
from pathlib import Path
import signal
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "shared" / "bench" / "peers"))
import pending_lib as L  # noqa: E402
import bench_chroma as BC  # noqa: E402  (Server, load)

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
FLAGS = ["--index", "hnsw", "--dimension", "384", "--checkpoint-wal-bytes", "4294967296",
         "--checkpoint-interval", "86400"]
base, q, gt = BC.load(L.DATA)
n = len(base)
np = L.np
X = np.concatenate([base, -base])
N = len(X)
print(L.env_line(f"rounds={rounds} records={N}"), flush=True)
t = time.perf_counter()
rows = L.encode_rows(base)
neg = [",".join(tok[1:] if tok[0] == "-" else "-" + tok for tok in r.split(",")) for r in rows]
chk = np.array([float(x) for x in neg[5].split(",")], dtype=np.float32)
assert chk.tobytes() == (-base[5]).tobytes()
bodies = L.batch_bodies(rows + neg, 0, 100)
print(f"# encoded {len(bodies)} bodies ({sum(len(b) for _, b in bodies) / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s",
      flush=True)


def lynx_round(r):
    d = L.scratch_dir("lynx-restart-")
    s = L.Lynxd(d, FLAGS)
    try:
        s.start()
        s.wait_ready()
        t0, t1, recs = L.load_batches(s.port, bodies, conns=4)
        st, h = s.health()
        print(json.dumps({"round": r, "step": "load", "records": recs, "records_per_s": round(recs / (t1 - t0)),
                          "count": h["count"], "pending_at_kill": h["linking"]["pending"], "wal": h.get("wal"),
                          "loadavg": L.loadavg()}), flush=True)
        s.kill()
        la = L.loadavg()
        s.start()
        t200, h = s.wait_ready(poll=0.01)
        tpend, h2, _ = s.wait_pending_zero(s.t_exec, count=N, poll=0.01)
        kill = {"round": r, "step": "restart_after_sigkill", "exec_to_health_200_s": round(t200, 3),
                "pending_at_first_200": h["linking"]["pending"], "count_at_first_200": h["count"],
                "exec_to_pending_0_s": round(tpend, 3), "linking_s": round(tpend - t200, 3),
                "linked_per_s": round(h["linking"]["pending"] / (tpend - t200)) if tpend > t200 else None,
                "loadavg_before": la, "loadavg_after": L.loadavg()}
        print(json.dumps(kill), flush=True)
        stop_s, rc = s.term()
        print(json.dumps({"round": r, "step": "sigterm_stop", "stop_s": round(stop_s, 3), "exit_status": rc,
                          "data_dir_files": sorted(os.listdir(d)), "loadavg": L.loadavg()}), flush=True)
        la = L.loadavg()
        s.start()
        t200c, hc = s.wait_ready(poll=0.01)
        clean = {"round": r, "step": "restart_after_sigterm", "exec_to_health_200_s": round(t200c, 3),
                 "pending_at_first_200": hc["linking"]["pending"], "count_at_first_200": hc["count"],
                 "loadavg_before": la, "loadavg_after": L.loadavg()}
        print(json.dumps(clean), flush=True)
        s.term()
        return kill, clean, stop_s
    finally:
        s.stop_quiet()
        L.rm(d)


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


import chromadb  # noqa: E402

cpath = L.scratch_dir("chroma-restart-")
cport = free_port()
srv = BC.Server(cport, cpath, cpath + ".log")
mk = lambda: chromadb.HttpClient(host="127.0.0.1", port=cport)
cfg = {"hnsw": {"space": "l2", "ef_construction": 200, "max_neighbors": 16}}


def chroma_start(label, r=None):
    la = L.loadavg()
    srv.start()
    client, t_hb = srv.wait_heartbeat(mk)
    col = client.get_collection("restart40k", embedding_function=None)
    col.query(query_embeddings=q[:1], n_results=10)
    t_q = time.perf_counter() - srv.t_start
    out = {"round": r, "step": label, "chroma": chromadb.__version__, "start_to_heartbeat_s": round(t_hb, 3),
           "start_to_first_query_answer_s": round(t_q, 3), "count": col.count(),
           "loadavg_before": la, "loadavg_after": L.loadavg()}
    print(json.dumps(out), flush=True)
    return out


res = []
try:
    srv.start()
    client, _ = srv.wait_heartbeat(mk)
    col = client.create_collection("restart40k", configuration=cfg, embedding_function=None)
    t0 = time.perf_counter()
    for s0 in range(0, N, 100):
        col.add(ids=[str(i) for i in range(s0, s0 + 100)], embeddings=X[s0:s0 + 100])
        if time.perf_counter() - t0 > 600:
            raise RuntimeError("chroma load exceeded 600 s")
    dt = time.perf_counter() - t0
    print(json.dumps({"step": "chroma_load", "vectors": N, "seconds": round(dt, 2), "vectors_per_s": round(N / dt),
                      "count": col.count(), "loadavg": L.loadavg()}), flush=True)
    srv.stop(signal.SIGKILL)
    ck = chroma_start("chroma_restart_after_sigkill_right_after_load")
    t = time.perf_counter(); srv.stop(signal.SIGTERM); t_stop = time.perf_counter() - t
    print(json.dumps({"step": "chroma_sigterm_stop", "stop_s": round(t_stop, 3)}), flush=True)
    for r in range(1, rounds + 1):
        kill, clean, stop_s = lynx_round(r)
        ch = chroma_start("chroma_restart_after_sigterm", r)
        t = time.perf_counter(); srv.stop(signal.SIGTERM); t_stop = time.perf_counter() - t
        print(json.dumps({"round": r, "step": "chroma_sigterm_stop", "stop_s": round(t_stop, 3)}), flush=True)
        rr = {"round": r,
              "lynx_kill_over_clean": round(kill["exec_to_health_200_s"] / clean["exec_to_health_200_s"], 3),
              "lynx_kill_over_chroma_first_query": round(kill["exec_to_health_200_s"] / ch["start_to_first_query_answer_s"], 3),
              "lynx_kill_over_chroma_heartbeat": round(kill["exec_to_health_200_s"] / ch["start_to_heartbeat_s"], 3),
              "lynx_kill_to_pending_0_over_chroma_first_query": round(kill["exec_to_pending_0_s"] / ch["start_to_first_query_answer_s"], 3),
              "loadavg": L.loadavg()}
        print(json.dumps(rr), flush=True)
        res.append((kill, clean, stop_s, ch, rr))
finally:
    srv.stop(signal.SIGKILL)
    L.rm(cpath)

med = lambda xs: round(statistics.median(xs), 3)
kc = med([x[4]["lynx_kill_over_clean"] for x in res])
kq = med([x[4]["lynx_kill_over_chroma_first_query"] for x in res])
print(json.dumps({
    "summary": "restart of 40k HNSW records: all in the log (SIGKILL) vs clean (SIGTERM checkpoint) vs Chroma (medians)",
    "rounds": rounds,
    "lynx_after_kill_to_health_200_s": med([x[0]["exec_to_health_200_s"] for x in res]),
    "lynx_after_kill_to_pending_0_s": med([x[0]["exec_to_pending_0_s"] for x in res]),
    "lynx_sigterm_stop_s": med([x[2] for x in res]),
    "lynx_after_sigterm_to_health_200_s": med([x[1]["exec_to_health_200_s"] for x in res]),
    "kill_over_clean": kc, "goal_kill_over_clean_le_2": kc <= 2,
    "chroma_start_to_heartbeat_s": med([x[3]["start_to_heartbeat_s"] for x in res]),
    "chroma_start_to_first_query_s": med([x[3]["start_to_first_query_answer_s"] for x in res]),
    "chroma_after_sigkill_to_first_query_s": ck["start_to_first_query_answer_s"],
    "lynx_kill_over_chroma_first_query": kq, "goal_lynx_kill_over_chroma_le_0.5": kq <= 0.5,
    "lynx_kill_over_chroma_heartbeat": med([x[4]["lynx_kill_over_chroma_heartbeat"] for x in res]),
    "loadavg": L.loadavg()}), flush=True)

# Search latency with ~65k records pending (the default --index-max-pending) against the same store once linked:
# 65,536 384-d records (the dev vectors, negated, halved) in the log of a default HNSW store, SIGKILL, restart,
# 200 single searches (k 10, ef 64, one connection) at once, then again after the builder linked everything.
#   LYNX_BIN=.build/release/lynxd /tmp/peers-venv/bin/python bench/http/search_at_the_bound.py
import sys, time, numpy as np
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pending_lib as L
base, q, gt = L.load_dev()
X = np.concatenate([base, -base, base * np.float32(0.5), -base * np.float32(0.5)])[:65536]
rows = L.encode_rows(X)
bodies = L.batch_bodies(rows, 0)
qb = L.search_bodies(L.encode_rows(q))
d = L.scratch_dir("bound")
flags = ["--dimension", "384", "--checkpoint-wal-bytes", "4294967296", "--checkpoint-interval", "86400"]
s = L.Lynxd(d + "/data", flags); s.start(); s.wait_ready()
L.load_batches(s.port, bodies)
s.kill()
s = L.Lynxd(d + "/data", flags); s.start(); t, h = s.wait_ready()
p0 = h["linking"]["pending"]
lat, _ = L.run_queries(s.port, qb, range(200))
p1 = s.health()[1]["linking"]["pending"]
print(f"restart to 200: {t:.3f} s; pending {p0} -> {p1}; p50 {1000*L.pct(lat,50):.2f} ms p99 {1000*L.pct(lat,99):.2f} ms  load {L.loadavg()}")
s.wait_pending_zero(time.perf_counter())
lat, _ = L.run_queries(s.port, qb, range(200))
print(f"linked: p50 {1000*L.pct(lat,50):.2f} ms p99 {1000*L.pct(lat,99):.2f} ms  load {L.loadavg()}")
s.kill(); L.rm(d)

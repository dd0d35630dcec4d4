"""Idle cost of many collections: creates N collections (half Flat, half HNSW, 8-d) in a real lynxd over HTTP, one record
each, then measures the time per creation, the CPU lynxd uses over 10 idle seconds, and the time a clean stop takes.

    python bench/collections/idle_cpu.py LYNXD_BINARY N
"""
import json, os, re, subprocess, sys, time, urllib.request, tempfile, shutil, signal, threading
binary = sys.argv[1]; n = int(sys.argv[2])
d = tempfile.mkdtemp()
p = subprocess.Popen([binary, "--port", "0", "--data-dir", d + "/data", "--dimension", "8", "--index", "flat"], stderr=subprocess.PIPE, text=True)
port = None
while port is None:
    m = re.search(r"listening on http://[^:]+:(\d+)", p.stderr.readline())
    if m: port = int(m.group(1))
threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
def req(method, path, body=None):
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body else None, method=method, headers={"content-type": "application/json"})
    return urllib.request.urlopen(r).read()
time.sleep(0.5)
t = time.monotonic()
for i in range(n):
    req("PUT", f"/collections/c{i}", {"dimension": 8, "index": ("flat", "hnsw")[i % 2]})
create = time.monotonic() - t
for i in range(n):
    req("POST", f"/collections/c{i}/vectors", {"id": 1, "vector": [1.0] * 8})
time.sleep(3)
def cpu():
    f = open(f"/proc/{p.pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
c0 = cpu(); time.sleep(10); c1 = cpu()
t = time.monotonic(); p.send_signal(signal.SIGTERM); p.wait(); stop = time.monotonic() - t
print(f"{binary} n={n}: create {create:.2f} s ({create / n * 1000:.1f} ms each), idle CPU {(c1 - c0) / 10 * 100:.1f}% of a core, stop {stop:.2f} s")
shutil.rmtree(d)

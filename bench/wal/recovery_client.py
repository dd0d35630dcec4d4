#!/usr/bin/env python3
"""HTTP client for bench/wal/recovery.sh (stdlib only; one keep-alive connection per role).

  recovery_client.py load URL FIRST_ID COUNT BATCH
      POST /vectors in batches of BATCH fresh 384-d records, ids FIRST_ID.., and print one JSON line
      (records/s). Vectors come from a pool of 64 pre-formatted random vectors (the ids differ).
  recovery_client.py fill-log URL FIRST_ID TARGET_BYTES BATCH
      Same, until lynx_wal_checkpoint_lag_bytes >= TARGET_BYTES; prints the records written.
  recovery_client.py stall URL FIRST_ID CHECKPOINTS QUIET_S
      A steady single-connection writer (one record per POST, next request as soon as the answer is in)
      runs for QUIET_S seconds, then CHECKPOINTS times: POST /checkpoint on a second connection, wait for
      it, QUIET_S seconds more. Each write's latency is classed "during" when it overlaps a checkpoint,
      "outside" otherwise. Prints one JSON line per checkpoint and a summary line (max and p99 per class).
"""
import http.client, json, random, sys, threading, time
from urllib.parse import urlparse

DIM = 384
rng = random.Random(7)
POOL = [",".join(f"{rng.uniform(-1, 1):.6f}" for _ in range(DIM)) for _ in range(64)]


def conn(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=600)


def call(c, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return data


def batch_body(first, n):
    return ('{"vectors":[' + ",".join(
        f'{{"id":{i},"vector":[{POOL[i % 64]}]}}' for i in range(first, first + n)) + "]}").encode()


def lag_bytes(c):
    for line in call(c, "GET", "/metrics").decode().splitlines():
        if line.startswith("lynx_wal_checkpoint_lag_bytes "):
            return float(line.split()[1])
    return 0.0


def load(url, first, count, batch):
    c = conn(url)
    t0 = time.perf_counter()
    i = first
    while i < first + count:
        n = min(batch, first + count - i)
        call(c, "POST", "/vectors", batch_body(i, n))
        i += n
    el = time.perf_counter() - t0
    print(json.dumps({"loaded": count, "first_id": first, "batch": batch, "seconds": round(el, 2),
                      "records_per_s": round(count / el)}), flush=True)


def fill_log(url, first, target, batch):
    c = conn(url)
    i = first
    t0 = time.perf_counter()
    while lag_bytes(c) < target:
        call(c, "POST", "/vectors", batch_body(i, batch))
        i += batch
    print(json.dumps({"log_records": i - first, "first_id": first, "lag_bytes": lag_bytes(c),
                      "seconds": round(time.perf_counter() - t0, 2)}), flush=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None


def stall(url, first, checkpoints, quiet):
    writes = []  # (start, end)
    stop = threading.Event()

    def writer():
        c = conn(url)
        i = first
        while not stop.is_set():
            body = f'{{"id":{i},"vector":[{POOL[i % 64]}]}}'.encode()
            a = time.perf_counter()
            call(c, "POST", "/vectors", body)
            writes.append((a, time.perf_counter()))
            i += 1

    w = threading.Thread(target=writer)
    w.start()
    time.sleep(quiet)
    windows = []
    ck = conn(url)
    for k in range(checkpoints):
        a = time.perf_counter()
        rep = json.loads(call(ck, "POST", "/checkpoint"))
        b = time.perf_counter()
        windows.append((a, b))
        time.sleep(quiet)
        during = [(e - s) for s, e in writes if s < b and e > a]
        worst = max(((e - s, s) for s, e in writes if s < b and e > a), default=(0, a))
        print(json.dumps({"checkpoint": k + 1, "http_seconds": round(b - a, 3), "server_seconds": rep.get("duration_seconds"),
                          "worst_write_started_s_after_checkpoint_start": round(worst[1] - a, 3),
                          "writes_during": len(during), "max_ms_during": round(max(during) * 1e3, 1) if during else None,
                          "p99_ms_during": round(pct(during, 0.99) * 1e3, 2) if during else None}), flush=True)
    stop.set()
    w.join()
    during, outside = [], []
    for s, e in writes:
        (during if any(s < b and e > a for a, b in windows) else outside).append(e - s)
    # The longest gap between two consecutive acknowledgements during a checkpoint (writer starved).
    print(json.dumps({
        "summary": "single-connection writer vs POST /checkpoint", "checkpoints": checkpoints,
        "writes_during": len(during), "writes_outside": len(outside),
        "max_ms_during": round(max(during) * 1e3, 1) if during else None,
        "p99_ms_during": round(pct(during, 0.99) * 1e3, 2) if during else None,
        "p50_ms_during": round(pct(during, 0.5) * 1e3, 3) if during else None,
        "max_ms_outside": round(max(outside) * 1e3, 1), "p99_ms_outside": round(pct(outside, 0.99) * 1e3, 2),
        "p50_ms_outside": round(pct(outside, 0.5) * 1e3, 3),
        "writes_per_s_during": round(len(during) / sum(b - a for a, b in windows)),
        "writes_per_s_outside": round(len(outside) / ((writes[-1][1] - writes[0][0]) - sum(b - a for a, b in windows))),
    }), flush=True)


if __name__ == "__main__":
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "load":
        load(url, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "fill-log":
        fill_log(url, int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "stall":
        stall(url, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)

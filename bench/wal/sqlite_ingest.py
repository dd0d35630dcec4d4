#!/usr/bin/env python3
"""SQLite single-record ingest (helper of bench/wal/vs_sqlite.sh; also runnable alone).

Table t(id INTEGER PRIMARY KEY, vec BLOB), journal_mode=WAL, default page size and wal_autocheckpoint,
one transaction per insert (autocommit INSERT), vec = 384 float32 = 1536 bytes (the payload of one Lynx
record). THREADS Python threads each open their own connection (busy_timeout 10 s) and insert fresh ids
as fast as they can; sqlite3 releases the GIL inside sqlite3_step, so the commits (and their fsyncs) do
run concurrently where SQLite lets them. SQLite allows one writer at a time: with THREADS > 1 the others
wait in the busy handler. THREADS = 1 is SQLite as it is used in practice (one writer connection that
the application serialises its writes through); the caller decides which figure to compare with.

Runs SECS seconds after a 0.5 s warm-up on a fresh database in DIR and prints one JSON line:
inserts/s, per-insert latency p50/p99/max, busy errors.

  python3 bench/wal/sqlite_ingest.py DIR SYNC(FULL|NORMAL) THREADS SECS
"""
import array, json, os, random, sqlite3, sys, threading, time

DIR, SYNC, THREADS, SECS = sys.argv[1], sys.argv[2].upper(), int(sys.argv[3]), float(sys.argv[4])
DIM = 384


def main():
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, f"ingest-{SYNC.lower()}-{THREADS}-{os.getpid()}.db")
    for suf in ("", "-wal", "-shm"):
        if os.path.exists(path + suf):
            os.unlink(path + suf)
    db = sqlite3.connect(path, isolation_level=None)
    assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, vec BLOB)")
    db.close()

    rng = random.Random(1)
    blobs = [array.array("f", (rng.random() * 2 - 1 for _ in range(DIM))).tobytes() for _ in range(64)]
    state = {"measuring": False, "stop": False}
    counts = [0] * THREADS
    busy = [0] * THREADS
    lats = [[] for _ in range(THREADS)]
    started = threading.Barrier(THREADS + 1)

    def worker(k):
        con = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
        con.execute(f"PRAGMA synchronous={SYNC}")
        i = (k + 1) * 1_000_000_000
        started.wait()
        while not state["stop"]:
            i += 1
            t0 = time.perf_counter()
            try:
                con.execute("INSERT INTO t(id, vec) VALUES(?, ?)", (i, blobs[i & 63]))
            except sqlite3.OperationalError:
                busy[k] += 1
                continue
            if state["measuring"]:
                lats[k].append(time.perf_counter() - t0)
                counts[k] += 1
        con.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.5)
    state["measuring"] = True
    t0 = time.perf_counter()
    time.sleep(SECS)
    state["measuring"] = False
    el = time.perf_counter() - t0
    state["stop"] = True
    for t in threads:
        t.join()
    all_l = sorted(x for l in lats for x in l)
    n = sum(counts)

    def pct(p):
        return round(all_l[min(len(all_l) - 1, int(p * len(all_l)))] * 1e6) if all_l else None

    print(json.dumps({
        "sqlite": sqlite3.sqlite_version, "synchronous": SYNC, "threads": THREADS, "seconds": round(el, 3),
        "inserts_per_s": round(n / el), "p50_us": pct(0.5), "p99_us": pct(0.99),
        "max_us": round(all_l[-1] * 1e6) if all_l else None, "busy_errors": sum(busy),
    }))
    for suf in ("", "-wal", "-shm"):
        if os.path.exists(path + suf):
            os.unlink(path + suf)


if __name__ == "__main__":
    main()

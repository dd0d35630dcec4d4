#!/usr/bin/env python3
"""Durable small writes: appending to a growing file vs rewriting a preallocated one.

What it measures: the median latency of pwrite(1584 bytes = one Lynx WAL frame of a 384-d record) +
fdatasync, N times in a row, (a) at the end of a file that grows with each write (what the Lynx WAL does:
each fdatasync must also commit the new file size through the filesystem journal) and (b) over a region
written and fsynced beforehand (what SQLite's WAL does once it restarts from the beginning of its file
after a checkpoint). Alternates a/b ROUNDS times (order flipped each round) in DIR and prints one JSON line
per run and a final ratio line (append / overwrite; > 1 means appending costs more per durable write).

  python3 bench/wal/fsync_append_vs_overwrite.py [DIR=/tmp] [N=400] [ROUNDS=4]
"""
import json, os, statistics, sys, time

DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 400
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 4
REC = b"x" * 1584


def run(mode):
    path = os.path.join(DIR, f"fsync-{mode}-{os.getpid()}.log")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if mode == "overwrite":
            os.write(fd, b"\0" * (len(REC) * N))
            os.fsync(fd)
        lat = []
        for i in range(N):
            a = time.perf_counter()
            os.pwrite(fd, REC, i * len(REC))
            os.fdatasync(fd)
            lat.append(time.perf_counter() - a)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    return statistics.median(lat) * 1e6, lat[int(0.99 * (len(lat) - 1))] * 1e6


def main():
    res = {"append": [], "overwrite": []}
    for r in range(ROUNDS):
        for mode in (("append", "overwrite") if r % 2 == 0 else ("overwrite", "append")):
            med, p99 = run(mode)
            res[mode].append(med)
            print(json.dumps({"round": r + 1, "mode": mode, "median_us": round(med), "p99_us": round(p99),
                              "load1": float(open("/proc/loadavg").read().split()[0])}), flush=True)
    a, o = statistics.median(res["append"]), statistics.median(res["overwrite"])
    print(json.dumps({"summary": "pwrite 1584 B + fdatasync, median of medians", "append_us": round(a),
                      "overwrite_us": round(o), "append_over_overwrite": round(a / o, 2),
                      "load": " ".join(open("/proc/loadavg").read().split()[:3])}))


if __name__ == "__main__":
    main()

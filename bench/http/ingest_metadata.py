"""Ingest cost of metadata: batches of records with and without a metadata object, server CPU per record.

Usage: python bench/http/ingest_metadata.py BIN_A [BIN_B ...]   (copies of lynxd; runs alternate between them)
Each run: a fresh Flat store of 64-d vectors, 200 batches of 500 records (five rounds) over 2 connections, once with an
8-member metadata object (strings, integers, a double, a bool, a nested object, an array) and once without.
It prints one JSON line per run (server CPU, user + system from /proc, per record; wall-clock records/s),
then the medians and, for two binaries, their ratio. Runs alternate ABBA. Everything
runs on 127.0.0.1; every run has a deadline. stdlib + numpy.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pending_lib as lib  # noqa: E402

DIM, BATCHES, PER_BATCH, ROUNDS = 64, 200, 500, 5


def bodies(with_metadata, seed=7):
    rng = np.random.default_rng(seed)
    out = []
    for b in range(BATCHES):
        records = []
        for i in range(PER_BATCH):
            rid = b * PER_BATCH + i
            rec = {"id": rid, "vector": [round(float(x), 6) for x in rng.standard_normal(DIM)]}
            if with_metadata:
                rec["metadata"] = {"genre": ["jazz", "rock", "pop"][rid % 3], "year": 1950 + rid % 70,
                                   "score": rid / 7, "live": rid % 2 == 0, "title": f"track number {rid}",
                                   "label": {"name": "blue note", "country": "US"}, "tags": ["a", "b", str(rid % 10)],
                                   "plays": 9007199254740993 + rid}
            records.append(rec)
        out.append((PER_BATCH, json.dumps({"vectors": records}).encode()))
    return out


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(binary, payload):
    lib.BIN = binary
    data = lib.scratch_dir("ingest-metadata")
    srv = lib.Lynxd(data, ["--dimension", str(DIM), "--index", "flat"]).start()
    try:
        srv.wait_ready()
        cpu0 = cpu_seconds(srv.proc.pid)
        t0, t1, n = lib.load_batches(srv.port, payload, conns=2, deadline_s=300)
        cpu = cpu_seconds(srv.proc.pid) - cpu0
        return cpu / n * 1e6, n / (t1 - t0)
    finally:
        srv.stop_quiet()
        lib.rm(data)


def main():
    binaries = sys.argv[1:]
    print(lib.env_line())
    for b in binaries:
        print(f"# {b} sha256={hashlib.sha256(open(b, 'rb').read()).hexdigest()[:12]}")
    payloads = {"metadata": bodies(True), "none": bodies(False)}
    results = {(b, k): [] for b in binaries for k in payloads}
    for round_ in range(ROUNDS):
        order = binaries if round_ % 2 == 0 else binaries[::-1]  # ABBA: drift hits both alike
        for kind, payload in payloads.items():
            for b in order:
                cpu_us, rate = run(b, payload)
                results[(b, kind)].append(cpu_us)
                print(json.dumps({"bin": b, "payload": kind, "round": round_, "server_cpu_us_per_record": round(cpu_us, 2),
                                  "records_per_s": round(rate), "load1": lib.load1()}), flush=True)
    medians = {key: sorted(v)[len(v) // 2] for key, v in results.items()}
    for b in binaries:
        print(f"{b}: server CPU per record, median of {ROUNDS}: with metadata {medians[(b, 'metadata')]:.2f} us, "
              f"without {medians[(b, 'none')]:.2f} us; metadata costs {medians[(b, 'metadata')] - medians[(b, 'none')]:.2f} us")
    if len(binaries) == 2:
        a, b = binaries
        print(f"ratio {b} / {a} with metadata: {medians[(b, 'metadata')] / medians[(a, 'metadata')]:.3f}")


if __name__ == "__main__":
    main()

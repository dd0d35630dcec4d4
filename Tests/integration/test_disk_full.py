"""Disk full: lynxd's data directory on a small tmpfs; writes until the log append fails with ENOSPC.

A write that does not fit must answer 507 `insufficient-storage` (problem+json) and apply nothing; reads,
/health and /metrics keep working; once space returns (a filler file in the same tmpfs is deleted) writes
succeed again, and everything acknowledged survives a SIGKILL restart.
Needs root (mount); skipped with the reason otherwise.
"""
from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import pytest

from crash_workload import metric
from lynx_helpers import assert_problem, f32
from tmpfs_mount import tmpfs as mounted_tmpfs

pytestmark = [pytest.mark.live]

DIM = 384
TMPFS_SIZE = "8m"
FILLER_BYTES = 5 << 20   # leaves ~3 MiB for the log; freeing it leaves room for a snapshot of that log


def vec(i: int, version: int) -> list[float]:
    return [f32(math.sin(i * 0.37 + k * 0.011) * (version + 1)) for k in range(DIM)]


def bits(v):
    return [struct.pack("<f", x) for x in v]


@pytest.fixture
def tmpfs(tmp_path):
    holder = {"servers": []}
    with mounted_tmpfs(tmp_path / "tmpfs", TMPFS_SIZE, holder["servers"]) as mnt:
        yield mnt, holder


def write_batch(srv, ids, version):
    return srv.post("/vectors", json={"vectors": [{"id": i, "vector": vec(i, version), "metadata": {"id": i, "v": version}}
                                                  for i in ids]})


def check(srv, i, version):
    r = srv.get(f"/vectors/{i}")
    assert r.status_code == 200, f"acknowledged id {i} (version {version}) missing: {r.status_code} {r.text[:200]}"
    body = r.json()
    assert bits(body["vector"]) == bits(vec(i, version)), f"id {i}: vector differs from version {version}"
    assert body["metadata"] == {"id": i, "v": version}


@pytest.mark.slow
def test_disk_full_answers_507_and_recovers_when_space_returns(start_server, tmpfs):
    mnt, holder = tmpfs
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        f.write(os.urandom(FILLER_BYTES))
    data_dir = mnt / "data"
    srv = start_server(data_dir=data_dir, dimension=DIM, checkpoint_wal_bytes=1 << 30)
    holder["servers"].append(srv)

    acked: dict[int, int] = {}          # id -> version
    next_id = 1
    failed_ids: list[int] = []
    full = None
    for _ in range(2000):               # bounded: 8 MiB / (20 x ~1.6 KB) is ~250 batches
        ids = list(range(next_id, next_id + 20))
        next_id += 20
        r = write_batch(srv, ids, 1)
        if r.status_code == 200:
            for i in ids:
                acked[i] = 1
            continue
        full = r
        failed_ids = ids
        break
    assert full is not None, "the 8 MiB tmpfs never filled up"
    body = assert_problem(full, 507, "insufficient-storage")
    print(f"507 after {len(acked)} records: {body['detail']}")
    assert "/" not in body["detail"] and str(data_dir) not in full.text, f"the 507 names a server path: {body}"
    assert "log" in body["detail"], body
    assert len(acked) > 100, f"only {len(acked)} records fit before the first 507: {body}"

    # nothing of the failed batch was applied; reads, search, /health, /metrics keep working
    for i in failed_ids:
        assert srv.get(f"/vectors/{i}").status_code == 404, f"id {i} of the refused batch was applied"
    assert srv.stats()["count"] == len(acked)
    for i in list(acked)[:: max(1, len(acked) // 50)]:
        check(srv, i, 1)
    r = srv.post("/search", json={"vector": vec(1, 1), "k": 3})
    assert r.status_code == 200 and r.json()["results"][0]["id"] == 1, r.text[:300]
    h = srv.health()
    assert h["status"] == "ok" and h["count"] == len(acked), h
    assert h["wal"]["durable_lsn"] <= h["wal"]["last_lsn"]
    assert (metric(srv, "lynx_wal_append_errors_total", reason="no_space") or 0) >= 1

    # the next write of the same size is refused the same way (the log did not move on a half frame)
    r = write_batch(srv, failed_ids, 1)
    assert_problem(r, 507, "insufficient-storage")
    lsn_before = srv.health()["wal"]["last_lsn"]

    # a checkpoint needs space for the snapshot: with the disk full it fails cleanly (507) or succeeds
    r = srv.post("/checkpoint")
    print(f"POST /checkpoint while full: {r.status_code} {r.text[:200]}")
    if r.status_code != 200:
        cp = assert_problem(r, 507, "insufficient-storage")
        # Said as what it is: the checkpoint's snapshot, not the log, ran out of space; and no server path.
        assert "checkpoint" in cp["detail"] and "/" not in cp["detail"], cp
        leftovers = [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, f"a failed checkpoint left temp files taking space: {leftovers}"
    assert srv.health()["status"] == "ok"
    assert srv.health()["wal"]["last_lsn"] == lsn_before
    assert srv.stats()["count"] == len(acked)

    # space returns
    filler.unlink()
    for _ in range(10):
        ids = list(range(next_id, next_id + 20))
        next_id += 20
        r = write_batch(srv, ids, 2)
        assert r.status_code == 200, f"write after space returned: {r.status_code} {r.text[:300]}"
        for i in ids:
            acked[i] = 2
    r = write_batch(srv, failed_ids, 2)                 # the refused batch, retried, now goes in
    assert r.status_code == 200, r.text[:300]
    for i in failed_ids:
        acked[i] = 2
    r = srv.post("/checkpoint")
    assert r.status_code == 200, f"checkpoint after space returned: {r.status_code} {r.text[:300]}"
    r = srv.post("/vectors?durable=true", json={"id": 999_999, "vector": vec(999_999, 3), "metadata": {"id": 999_999, "v": 3}})
    assert r.status_code == 200, r.text
    acked[999_999] = 3

    srv.kill()
    srv2 = start_server(data_dir=data_dir, dimension=DIM, checkpoint_wal_bytes=1 << 30)
    holder["servers"].append(srv2)
    assert srv2.stats()["count"] == len(acked), f"after restart {srv2.stats()['count']} records, acknowledged {len(acked)}"
    for i, v in acked.items():
        check(srv2, i, v)

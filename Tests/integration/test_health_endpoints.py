"""Probes (issue 13 item 5): `/health/live` answers while the process runs; `/health/ready` answers 200 only when
every collection is recovered and writable and the disk is not full, else 503 problem+json naming the reasons.
`/health` keeps its own contract (other tests depend on it)."""
from __future__ import annotations

import os
import random
import time

import pytest

from lynx_helpers import assert_problem, wait_until
from openapi_check import SpecChecker, load_spec
from tmpfs_mount import tmpfs

pytestmark = [pytest.mark.live]

SPEC = load_spec()


def test_live_and_ready_on_a_ready_server(server):
    ck = SpecChecker(SPEC)
    live, ready = server.get("/health/live"), server.get("/health/ready")
    assert live.status_code == 200 and live.json() == {"status": "live"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    for path in ("/health/live", "/health/ready"):
        head = server.request("HEAD", path)
        assert head.status_code == 200 and head.content == b""
        assert_problem(server.get(path + "?x=1"), 400, "invalid-request")
        r = server.post(path, json={})
        assert_problem(r, 405, "method-not-allowed")
        assert r.headers["Allow"] == "GET, HEAD"
        for resp in (server.get(path), server.get(path + "?x=1"), r):
            assert not ck.check(resp), ck.check(resp)
    assert server.get("/health").json()["status"] == "ok"


@pytest.mark.slow
def test_ready_says_recovering_while_live_says_up(start_server):
    """The recovery replay of test_recovering.py (HNSW without the builder replays into the graph, slowly)."""
    dim = 48
    srv = start_server(dimension=dim, index="hnsw", index_threads=0, checkpoint_wal_bytes=1 << 34, checkpoint_interval=86400)
    rng = random.Random(3)
    for start in range(0, 6000, 1000):
        batch = [{"id": i, "vector": [rng.uniform(-1, 1) for _ in range(dim)]} for i in range(start, start + 1000)]
        assert srv.post("/vectors", json={"vectors": batch}).status_code == 200
    srv.kill()
    again = start_server(data_dir=srv.data_dir, dimension=dim, index="hnsw", index_threads=0, wait=False)
    again.wait_listening()
    ck = SpecChecker(SPEC)
    seen = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready = again.get("/health/ready", timeout=5)
        if ready.status_code == 200:
            break
        body = assert_problem(ready, 503, "unavailable")
        assert body["reasons"] == ["recovering"] and "is recovering" in body["detail"], body
        assert ready.headers.get("Retry-After") == "1"
        assert not ck.check(ready), ck.check(ready)
        assert again.get("/health/live", timeout=5).status_code == 200
        seen += 1
        time.sleep(0.05)
    else:
        pytest.fail("not ready within 120 s")
    assert seen, "recovery finished before /health/ready could observe it"
    assert again.get("/health").json()["status"] == "ok"


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (needs root, like test_disk_full.py)."""
    servers = []
    with tmpfs(tmp_path / "tmpfs", "16m", servers) as mnt:
        yield mnt, servers


def free_bytes(path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave: int) -> None:
    """Writes a filler file so that about `leave` bytes stay free."""
    with open(path / "filler", "wb") as f:
        f.write(b"\xa5" * max(0, free_bytes(path) - leave))


def test_ready_says_disk_full_below_the_threshold(start_server, small_disk):
    mnt, servers = small_disk
    srv = start_server(data_dir=mnt / "data", min_free_disk_bytes=4 << 20)
    servers.append(srv)
    assert srv.get("/health/ready").status_code == 200
    fill(mnt, 2 << 20)
    r = srv.get("/health/ready")
    body = assert_problem(r, 503, "unavailable")
    assert body["reasons"] == ["disk-full"] and "below the 4194304 of --min-free-disk-bytes" in body["detail"], body
    assert "Retry-After" not in r.headers
    assert str(mnt) not in r.text, "a server path reached a client"
    assert not SpecChecker(SPEC).check(r)
    # /health keeps its contract: the store is ready and takes writes.
    assert srv.get("/health").status_code == 200
    assert srv.post("/vectors", json={"id": 1, "vector": [1, 2, 3, 4]}).status_code == 200
    (mnt / "filler").unlink()
    assert srv.get("/health/ready").status_code == 200


def test_ready_says_disk_full_after_a_write_ran_out_of_space_until_space_returns(start_server, small_disk):
    """With the threshold off, only a failed write says so; freeing space clears it without another write."""
    mnt, servers = small_disk
    dim = 256
    srv = start_server(data_dir=mnt / "data", dimension=dim, min_free_disk_bytes=0,
                       checkpoint_wal_bytes=1 << 30, checkpoint_interval=86400)
    servers.append(srv)
    fill(mnt, 3 << 20)
    assert srv.get("/health/ready").status_code == 200
    refused = None
    for n in range(400):
        batch = [{"id": n * 100 + i, "vector": [float(i % 7)] * dim} for i in range(100)]
        r = srv.post("/vectors", json={"vectors": batch})
        if r.status_code == 507:
            refused = r
            break
        assert r.status_code == 200, r.text
    assert refused is not None, "the disk never filled"
    r = srv.get("/health/ready")
    body = assert_problem(r, 503, "unavailable")
    assert body["reasons"] == ["disk-full"] and "last write found the disk full" in body["detail"], body
    assert srv.get("/health").status_code == 200
    (mnt / "filler").unlink()
    wait_until(lambda: srv.get("/health/ready").status_code == 200, timeout=10, what="ready once space returned")
    assert srv.post("/vectors", json={"id": 1, "vector": [1.0] * dim}).status_code == 200

"""Start-up recovery while the server already answers: /health says 503 "recovering" with a progress figure,
writes and reads get a 503 problem with Retry-After, and once the log is replayed everything is there."""
from __future__ import annotations

import random
import time

import pytest

from lynx_helpers import assert_problem

pytestmark = [pytest.mark.live, pytest.mark.slow]

DIM = 48


def test_health_reports_recovery_progress_and_requests_wait_for_it(start_server):
    # Without background linking (--index-threads 0) HNSW replays into its graph, slowly enough to be observed;
    # with the builder, replay only stages records and takes milliseconds.
    srv = start_server(dimension=DIM, index="hnsw", index_threads=0, hnsw_ef_construction=200,
                       checkpoint_wal_bytes=1 << 34, checkpoint_interval=86400)
    rng = random.Random(5)
    n = 6000
    for start in range(0, n, 1000):
        batch = [{"id": i, "vector": [rng.uniform(-1, 1) for _ in range(DIM)]} for i in range(start, start + 1000)]
        assert srv.post("/vectors", json={"vectors": batch}).status_code == 200
    data_dir = srv.data_dir
    srv.kill()

    again = start_server(data_dir=data_dir, dimension=DIM, index="hnsw", index_threads=0, wait=False)
    again.wait_listening()
    seen_recovering = []
    write_refused = read_refused = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = again.get("/health", timeout=5)
        if r.status_code == 200:
            break
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "recovering", body
        assert 0 <= body["progress"] <= 1
        assert r.headers.get("Retry-After") == "1"
        seen_recovering.append(body["progress"])
        if write_refused is None:
            write_refused = again.post("/vectors", json={"id": 99999, "vector": [0.5] * DIM})
            read_refused = again.post("/search", json={"vector": [0.5] * DIM, "k": 1})
        time.sleep(0.05)
    else:
        pytest.fail("recovery did not finish within 120 s")

    assert seen_recovering, "recovery finished before /health could observe it (the log was too short)"
    assert seen_recovering == sorted(seen_recovering), f"progress went backwards: {seen_recovering}"
    problem = assert_problem(write_refused, 503, "unavailable")
    assert "recovering" in problem["detail"]
    assert write_refused.headers.get("Retry-After") == "1"
    assert_problem(read_refused, 503, "unavailable")

    assert again.stats()["count"] == n, "records lost in recovery"
    assert again.get("/vectors/99999").status_code == 404, "a write refused during recovery was applied"
    health = again.health()
    assert health["status"] == "ok" and health["wal"]["last_lsn"] >= n

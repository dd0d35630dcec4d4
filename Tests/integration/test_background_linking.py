"""HNSW with the graph off the write path, through the service: writes are acknowledged once logged and staged
in the pending tail, searchable exactly at once; the builder links them behind; a full tail answers 503 with
Retry-After and changes nothing; a clean shutdown checkpoints so the next start replays nothing."""
from __future__ import annotations

import random
import re
import time

import pytest

from lynx_helpers import PROBLEM_MEDIA_TYPE, media_type

pytestmark = [pytest.mark.live]

DIM = 32
# A graph slow enough to build that a few thousand records stay pending for a while on any machine.
SLOW_GRAPH = dict(dimension=DIM, index="hnsw", hnsw_m=32, hnsw_ef_construction=2000, index_threads=1)


def vectors(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)]


def load(srv, vecs, first_id=0, batch=500):
    for start in range(0, len(vecs), batch):
        body = {"vectors": [{"id": first_id + i, "vector": v} for i, v in enumerate(vecs[start:start + batch], start)]}
        r = srv.post("/vectors", json=body)
        assert r.status_code == 200, r.text


def metric_value(srv, name: str) -> float:
    m = re.search(rf'^{name}\{{collection="default"\}} (\S+)$', srv.get("/metrics").text, re.M)
    assert m, f"{name} missing from /metrics"
    return float(m.group(1))


def l2(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5


def test_pending_records_are_searchable_exactly_and_then_linked(start_server):
    srv = start_server(**SLOW_GRAPH)
    vecs = vectors(3000, seed=1)
    load(srv, vecs)
    h = srv.health()
    assert h["count"] == 3000
    pending = h["linking"]["pending"]
    assert pending > 500 and h["linking"]["behind"] is True, h["linking"]
    stats = srv.stats()
    assert stats["count"] == 3000 and stats["linking"]["pending"] > 0
    assert metric_value(srv, "lynx_index_pending_vectors") > 0
    # While most records are pending, a search is exact: it agrees with brute force over all records.
    queries = vectors(15, seed=2)
    for q in queries:
        got = srv.post("/search", json={"vector": q, "k": 5}).json()["results"]
        want = sorted(range(3000), key=lambda i: (l2(q, vecs[i]), i))[:5]
        if srv.health()["linking"]["pending"] >= 2900:  # (near-)everything still pending: exact by construction
            assert [x["id"] for x in got] == want
        assert len(got) == 5
    # Every record is readable, pending or not.
    for i in range(0, 3000, 97):
        assert srv.get(f"/vectors/{i}").json()["vector"] == pytest.approx(vecs[i], rel=1e-6)
    h = srv.wait_linked(timeout=300)
    assert h["linking"]["linked_total"] >= 3000 and h["linking"]["behind"] is False
    assert metric_value(srv, "lynx_index_linked_total") >= 3000
    assert metric_value(srv, "lynx_index_link_duration_seconds_count") > 0
    assert metric_value(srv, "lynx_index_pending_vectors") == 0


def test_a_replaced_or_deleted_record_is_never_returned_while_it_is_pending(start_server):
    srv = start_server(**SLOW_GRAPH)
    vecs = vectors(3000, seed=3)
    load(srv, vecs)  # some linked by now, most pending
    far = [[50.0 + i] * DIM for i in range(100)]
    load(srv, far)                      # replaces ids 0..99 with far-away vectors
    for i in range(100, 150):
        assert srv.delete(f"/vectors/{i}").status_code == 200
    assert srv.health()["linking"]["pending"] > 0
    for i in range(0, 150, 5):
        hits = srv.post("/search", json={"vector": vecs[i], "k": 10}).json()["results"]
        ids = {x["id"] for x in hits}
        assert i not in ids and not ids & set(range(100, 150)), (i, ids)
    assert srv.post("/search", json={"vector": far[7], "k": 1}).json()["results"][0]["id"] == 7
    assert srv.stats()["count"] == 2950
    srv.wait_linked(timeout=300)
    for i in range(0, 150, 5):
        ids = {x["id"] for x in srv.post("/search", json={"vector": vecs[i], "k": 10}).json()["results"]}
        assert i not in ids and not ids & set(range(100, 150)), (i, ids)
    assert srv.stats()["count"] == 2950


def test_a_full_tail_answers_503_with_retry_after_and_writes_nothing(start_server):
    # No wait: a write that does not fit is refused at once (the wait itself is covered by EnginePendingTests).
    # A graph of 3,000 first: linking into an empty graph is quick enough that the builder could link the whole
    # tail between two requests; into this one each record's beam (ef_construction 2,000) visits most of the graph.
    first = start_server(**SLOW_GRAPH)
    load(first, vectors(3000, seed=3), first_id=100_000, batch=1000)
    first.wait_linked(timeout=300)
    assert first.stop() == 0
    srv = start_server(data_dir=first.data_dir, index_max_pending=1000, index_pending_wait=0, **SLOW_GRAPH)
    load(srv, vectors(1000, seed=4), batch=1000)
    lsn = srv.health()["wal"]["last_lsn"]
    t0 = time.monotonic()
    # 1,000 more fit only once all 1,000 pending are linked (a batch over the bound goes in alone, into an empty tail).
    r = srv.post("/vectors", json={"vectors": [{"id": 5000 + i, "vector": v} for i, v in enumerate(vectors(1000, seed=5))]})
    waited = time.monotonic() - t0
    if r.status_code == 200:
        pytest.fail(f"the builder linked 1,000 records between two requests: {srv.health()['linking']}")
    assert r.status_code == 503, r.text
    assert media_type(r) == PROBLEM_MEDIA_TYPE
    assert r.headers.get("Retry-After") == "1"
    body = r.json()
    assert body["status"] == 503 and "linked" in body["detail"] and "nothing was written" in body["detail"]
    assert "/" not in body["detail"].replace("n/a", "")  # no server path
    assert waited < 5
    assert srv.get("/vectors/5000").status_code == 404
    assert srv.health()["wal"]["last_lsn"] == lsn
    assert metric_value(srv, "lynx_index_pending_full_rejections_total") >= 1
    srv.wait_linked(timeout=300)
    assert srv.post("/vectors", json={"id": 5000, "vector": [0.5] * DIM}).status_code == 200


def test_clean_shutdown_checkpoints_pending_records_and_the_restart_replays_nothing(start_server):
    srv = start_server(**SLOW_GRAPH)
    vecs = vectors(2000, seed=6)
    load(srv, vecs)
    assert srv.health()["linking"]["pending"] > 0
    data_dir = srv.data_dir
    assert srv.stop() == 0
    assert "shutdown checkpoint written" in srv.log_text()
    again = start_server(data_dir=data_dir, **SLOW_GRAPH)
    assert re.search(r"replayed the log .*files=", again.log_text())
    assert metric_value(again, "lynx_recovery_frames_replayed") == 0
    h = again.health()
    assert h["count"] == 2000 and h["linking"]["pending"] > 0, h
    for i in range(0, 2000, 101):
        hits = again.post("/search", json={"vector": vecs[i], "k": 1}).json()["results"]
        assert hits[0]["id"] == i and hits[0]["distance"] == 0
    again.wait_linked(timeout=300)
    assert again.stats()["count"] == 2000


def test_sigkill_with_records_pending_loses_nothing(start_server):
    srv = start_server(**SLOW_GRAPH)
    vecs = vectors(2500, seed=7)
    load(srv, vecs)
    assert srv.health()["linking"]["pending"] > 500
    data_dir = srv.data_dir
    srv.kill()
    t0 = time.monotonic()
    again = start_server(data_dir=data_dir, **SLOW_GRAPH)
    ready = time.monotonic() - t0
    h = again.health()
    assert h["count"] == 2500 and h["linking"]["pending"] > 0
    # Replay puts the log into the tail without graph work: ready long before the builder could link it all.
    assert ready < 10, ready
    for i in range(0, 2500, 83):
        assert again.get(f"/vectors/{i}").json()["vector"] == pytest.approx(vecs[i], rel=1e-6)
        hits = again.post("/search", json={"vector": vecs[i], "k": 1}).json()["results"]
        assert hits[0]["id"] == i


def test_index_threads_zero_links_before_acknowledging(start_server):
    srv = start_server(dimension=DIM, index="hnsw", index_threads=0)
    load(srv, vectors(300, seed=8), batch=100)
    h = srv.health()
    assert h["linking"] == {"pending": 0, "behind": False, "linked_total": 0}

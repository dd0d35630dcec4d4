"""Memory you can see (issue 21, item 6): /stats, GET /collections/{name} and `lynx_memory_bytes{collection,part}`
report the heap a collection holds part by part (vectors, codes, index, pending, metadata, metadata indexes), the
same figures in each, and each part moves with what it counts.
"""
from __future__ import annotations

import random

import pytest

from crash_workload import parse_metrics

pytestmark = pytest.mark.live

PARTS = {"vectors": "vector_bytes", "codes": "code_bytes", "index": "index_bytes", "pending": "pending_bytes",
         "metadata": "metadata_bytes", "metadata_indexes": "metadata_index_bytes"}
DIM = 64


def records(n: int, start: int = 0, seed: int = 5) -> list[dict]:
    rng = random.Random(seed + start)
    return [{"id": i, "vector": [rng.uniform(-1, 1) for _ in range(DIM)],
             "metadata": {"genre": f"g{i % 50}", "year": 1900 + i % 120}} for i in range(start, start + n)]


def test_the_memory_report_counts_each_part_and_agrees_everywhere(start_server):
    srv = start_server()
    assert srv.request("PUT", "/collections/m", json={"dimension": DIM, "index": "hnsw"}).status_code == 201
    empty = srv.get("/collections/m/stats").json()["memory"]
    assert empty["vector_bytes"] == 0 and empty["metadata_bytes"] == 0 and empty["metadata_index_bytes"] == 0, empty

    # A burst big enough that the builder is still linking when it is acknowledged: what waits is counted as
    # pending, and goes once linked.
    seen_pending = None
    for start in range(0, 6000, 2000):
        assert srv.post("/collections/m/vectors", json={"vectors": records(2000, start)}).status_code == 200
        s = srv.get("/collections/m/stats").json()
        if s["linking"]["pending"] > 0 and seen_pending is None:
            seen_pending = s
    if seen_pending is None:
        print("the builder kept up with every burst; the pending part was not seen non-zero")
    else:
        assert seen_pending["memory"]["pending_bytes"] >= seen_pending["linking"]["pending"] * DIM * 4, seen_pending
    srv.wait_linked(collection="m")
    linked = srv.get("/collections/m/stats").json()["memory"]
    assert linked["pending_bytes"] < 4096, linked  # the drained tail starts over empty
    assert linked["vector_bytes"] >= 6000 * DIM * 4, linked
    assert linked["index_bytes"] >= 6000 * (8 + 16 * 2 * 4) // 2, linked  # ids and at least half a layer-0 list
    assert linked["metadata_bytes"] >= 6000 * 20, linked
    assert linked["metadata_index_bytes"] == 0 and linked["code_bytes"] == 0, linked

    # A metadata index is counted while it exists.
    assert srv.request("PUT", "/collections/m/indexes/genre", json={"type": "keyword"}).status_code in (200, 201)
    assert srv.request("PUT", "/collections/m/indexes/year", json={"type": "integer"}).status_code in (200, 201)
    indexed = srv.get("/collections/m/stats").json()["memory"]
    assert indexed["metadata_index_bytes"] >= 2 * 6000 * 8, indexed

    # The three reports say the same.
    shown = srv.get("/collections/m").json()["memory"]
    metrics = parse_metrics(srv.get("/metrics").text)
    assert shown == indexed, (shown, indexed)
    for part, key in PARTS.items():
        assert metrics[("lynx_memory_bytes", frozenset({("collection", "m"), ("part", part)}))] == indexed[key], part
    assert indexed["total_bytes"] == sum(indexed[k] for k in PARTS.values())

    assert srv.request("DELETE", "/collections/m/indexes/genre").status_code == 200
    assert srv.request("DELETE", "/collections/m/indexes/year").status_code == 200
    assert srv.get("/collections/m/stats").json()["memory"]["metadata_index_bytes"] == 0

    # Deleting records gives their metadata back from the count.
    ids = list(range(0, 6000, 2))
    assert srv.post("/collections/m/vectors/delete", json={"ids": ids}).status_code == 200
    after = srv.get("/collections/m/stats").json()["memory"]
    assert after["metadata_bytes"] < 0.6 * indexed["metadata_bytes"], (after, indexed)

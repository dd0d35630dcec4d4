"""POST /search/batch: each list equals what POST /search answers for that query (flat, hnsw, ivf).
Its error rows are in test_errors.py."""
from __future__ import annotations

import random

import pytest

pytestmark = pytest.mark.live

DIM = 12


def _points(n, seed):
    rng = random.Random(seed)
    return [{"id": i * 5 + 3, "vector": [rng.uniform(-1, 1) for _ in range(DIM)],
             "metadata": {"parity": i % 2, "group": i % 3}} for i in range(n)]


@pytest.mark.parametrize("index,metric", [("flat", "l2"), ("flat", "cosine"), ("flat", "dot"),
                                          ("hnsw", "cosine"), ("ivf", "l2")])
def test_batch_equals_one_search_per_query(start_server, index, metric):
    srv = start_server(dimension=DIM, metric=metric, index=index)
    records = _points(700, seed=7)
    srv.upsert(records[:400])
    srv.upsert(records[400:])
    for rec in records[::9]:  # holes: a flat index moves its last rows into them
        assert srv.delete(f"/vectors/{rec['id']}").status_code == 200
    if index == "ivf":
        assert srv.post("/index/rebuild", json={}).status_code == 200
    rng = random.Random(11)
    queries = [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(23)]  # not a multiple of 4
    for options in ({"k": 10}, {"k": 1}, {"k": 1000}, {"k": 7, "filter": {"parity": 1}},
                    {"k": 5, "filter": {"group": 2}, "include": ["metadata", "vector"]},
                    {"k": 10, "ef_search": 32, "n_probe": 3}):
        r = srv.post("/search/batch", json={"queries": queries, **options})
        assert r.status_code == 200, r.text
        lists = r.json()["results"]
        assert len(lists) == len(queries)
        for query, got in zip(queries, lists):
            single = srv.post("/search", json={"vector": query, **options})
            assert single.status_code == 200, single.text
            assert got == single.json()["results"], (options, query)


def test_batch_on_empty_store_and_single_query(server):
    r = server.post("/search/batch", json={"queries": [[1, 0, 0, 0], [0, 1, 0, 0]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"results": [[], []]}
    server.upsert([{"id": 1, "vector": [1, 0, 0, 0]}, {"id": 2, "vector": [0, 1, 0, 0]}])
    r = server.post("/search/batch", json={"queries": [[0, 1, 0, 0]], "k": 1})
    assert r.json() == {"results": [[{"id": 2, "distance": 0.0}]]}


def test_batch_counts_every_query_in_stats(server):
    server.upsert([{"id": 1, "vector": [1, 0, 0, 0]}])
    before = server.stats()["totals"]["searches"]
    assert server.post("/search/batch", json={"queries": [[1, 0, 0, 0]] * 3}).status_code == 200
    assert server.stats()["totals"]["searches"] == before + 3

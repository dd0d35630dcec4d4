"""Approximate indexes through the service: a restart from a checkpoint loads the index structure from the
snapshot (the log says so; nothing is rebuilt) and answers every search exactly as before."""
from __future__ import annotations

import random

import pytest

from lynx_helpers import run_lynxd

pytestmark = [pytest.mark.live, pytest.mark.slow]

DIM = 16


def random_vectors(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)]


def search_all(srv, queries, **extra):
    out = []
    for q in queries:
        r = srv.post("/search", json={"vector": q, "k": 10, **extra})
        assert r.status_code == 200, r.text
        out.append([(x["id"], x["distance"]) for x in r.json()["results"]])
    return out


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_hnsw_restart_from_checkpoint_gives_identical_results(start_server, metric):
    srv = start_server(dimension=DIM, metric=metric, index="hnsw", hnsw_m=8, hnsw_ef_construction=64)
    vectors = random_vectors(1500, seed=7)
    for start in range(0, len(vectors), 500):
        batch = [{"id": i, "vector": v, "metadata": {"parity": i % 2}} for i, v in enumerate(vectors[start:start + 500], start)]
        r = srv.post("/vectors", json={"vectors": batch})
        assert r.status_code == 200, r.text
    for i in range(0, 300, 3):  # deletes leave tombstones in the graph; they must never come back
        assert srv.delete(f"/vectors/{i}").status_code == 200
    queries = random_vectors(25, seed=8)
    srv.wait_linked()  # (the builder would otherwise change the graph between the two sides of the comparison)
    before = search_all(srv, queries)
    before_filtered = search_all(srv, queries, filter={"parity": 1}, ef_search=128)
    assert all(len(r) == 10 for r in before)
    assert all(id_ % 2 == 1 for r in before_filtered for id_, _ in r)
    assert srv.post("/checkpoint", json={}).status_code == 200
    stats = srv.stats()
    assert stats["index"]["type"] == "hnsw" and stats["index"]["m"] == 8

    data_dir = srv.data_dir
    assert srv.stop() == 0
    again = start_server(data_dir=data_dir, dimension=DIM, metric=metric, index="hnsw")
    assert "loaded snapshot without rebuilding the index" in again.log_text()
    assert search_all(again, queries) == before
    assert search_all(again, queries, filter={"parity": 1}, ef_search=128) == before_filtered
    deleted = {i for i in range(0, 300, 3)}
    assert not any(id_ in deleted for r in before for id_, _ in r)
    assert again.stats()["count"] == 1500 - len(deleted)


def test_hnsw_parameters_are_fixed_by_the_manifest(start_server, tmp_path):
    srv = start_server(dimension=DIM, index="hnsw", hnsw_m=8)
    data_dir = srv.data_dir
    assert srv.stop() == 0
    proc = run_lynxd(["--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir), "--hnsw-m", "12"])
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "m=8" in err and "m=12" in err, err


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_ivf_trains_retrains_and_restarts_with_identical_results(start_server, metric):
    srv = start_server(dimension=DIM, metric=metric, index="ivf", ivf_n_probe=4)
    vectors = random_vectors(3000, seed=11)
    for start in range(0, len(vectors), 1000):
        batch = [{"id": i, "vector": v} for i, v in enumerate(vectors[start:start + 1000], start)]
        assert srv.post("/vectors", json={"vectors": batch}).status_code == 200
    index = srv.stats()["index"]
    assert index["type"] == "ivf" and index["trained"] in (True, "true"), index
    queries = random_vectors(20, seed=12)
    # Probing every list is exact: it must agree with brute force over what was stored.
    exact = search_all(srv, queries, n_probe=65536)
    flat = start_server(dimension=DIM, metric=metric, index="flat", data_dir=srv.data_dir.parent / "flat")
    for start in range(0, len(vectors), 1000):
        batch = [{"id": i, "vector": v} for i, v in enumerate(vectors[start:start + 1000], start)]
        assert flat.post("/vectors", json={"vectors": batch}).status_code == 200
    assert [[i for i, _ in r] for r in exact] == [[i for i, _ in r] for r in search_all(flat, queries)]

    r = srv.post("/index/rebuild", json={})
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "retrained"
    assert srv.stats()["index"]["trained_count"] == 3000
    before = search_all(srv, queries)
    data_dir = srv.data_dir
    assert srv.stop() == 0
    again = start_server(data_dir=data_dir, dimension=DIM, metric=metric, index="ivf", ivf_n_probe=4)
    assert "loaded snapshot without rebuilding the index" in again.log_text()
    assert search_all(again, queries) == before


def test_rebuild_on_flat_and_hnsw(start_server, tmp_path):
    flat = start_server(dimension=DIM, index="flat", data_dir=tmp_path / "f")
    r = flat.post("/index/rebuild")
    assert r.status_code == 200 and r.json()["action"] == "none", r.text
    hnsw = start_server(dimension=DIM, index="hnsw", data_dir=tmp_path / "h")
    vectors = random_vectors(200, seed=3)
    assert hnsw.post("/vectors", json={"vectors": [{"id": i, "vector": v} for i, v in enumerate(vectors)]}).status_code == 200
    for i in range(0, 200, 4):
        assert hnsw.delete(f"/vectors/{i}").status_code == 200
    r = hnsw.post("/index/rebuild", json={})
    assert r.status_code == 200 and r.json()["action"] == "consolidated", r.text
    results = search_all(hnsw, random_vectors(5, seed=4))
    assert all(len(x) == 10 and all(i % 4 != 0 for i, _ in x) for x in results)

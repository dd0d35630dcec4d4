"""Compressed vectors (issue 21): a collection made with sq8 or rabitq codes searches on them, rescores from the full
vectors, shows its setting, refuses a conflicting one, and answers alike after a SIGKILL and after a checkpoint and
restart.
"""
from __future__ import annotations

import math
import random

import pytest

from crash_workload import parse_metrics
from lynx_helpers import assert_problem, f32v, run_lynxd

pytestmark = pytest.mark.live

DIM = 24
N = 1500  # past the 1,024 vectors the quantizer is fitted on


def clustered(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    centers = [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(20)]
    return [f32v(c + rng.uniform(-0.3, 0.3) for c in rng.choice(centers)) for _ in range(n)]


def cosine_distance(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return 1 - dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def search_all(srv, queries, **extra) -> list[list[tuple[int, float]]]:
    out = []
    for q in queries:
        r = srv.post("/collections/q/search", json={"vector": q, "k": 10, **extra})
        assert r.status_code == 200, r.text
        out.append([(hit["id"], hit["distance"]) for hit in r.json()["results"]])
    return out


# Each setting: its JSON form, a conflicting one, its text form in /stats, bytes of one code at DIM, how far an
# estimate may be from the exact cosine distance.
CODES = {
    "sq8": ({"type": "sq8"}, {"type": "none"}, "sq8", DIM, 0.02),
    "rabitq:4": ({"type": "rabitq", "bits": 4}, {"type": "rabitq", "bits": 8}, "rabitq:4", 16, 0.1),
    "rabitq:8": ({"type": "rabitq", "bits": 8}, {"type": "sq8"}, "rabitq:8", DIM, 0.02),
}


@pytest.mark.parametrize("codes", list(CODES))
def test_a_collection_with_codes(start_server, codes):
    setting, conflicting, text, code_bytes, tolerance = CODES[codes]
    srv = start_server()
    body = {"dimension": DIM, "metric": "cosine", "quantization": setting}
    assert srv.request("PUT", "/collections/q", json=body).status_code == 201
    assert srv.request("PUT", "/collections/q", json=body).status_code == 200  # the same settings again
    conflict = assert_problem(srv.request("PUT", "/collections/q", json={**body, "quantization": conflicting}), 409)
    assert "quantization" in conflict["detail"], conflict
    shown = srv.get("/collections/q").json()
    assert shown["settings"]["quantization"] == setting, shown

    vectors = clustered(N, seed=1)
    for start in range(0, N, 500):
        batch = [{"id": i, "vector": v} for i, v in enumerate(vectors[start:start + 500], start)]
        assert srv.post("/collections/q/vectors", json={"vectors": batch}).status_code == 200
    srv.wait_linked(collection="q")
    stats = srv.get("/collections/q/stats").json()
    assert stats["index"]["quantization"] == text and stats["index"]["quantizer"] == "fitted", stats["index"]
    assert stats["index"]["links_on"] == "vectors", stats["index"]  # in memory, the graph links on the vectors
    assert stats["memory"]["code_bytes"] >= N * code_bytes, stats["memory"]
    assert srv.stats()["memory"]["code_bytes"] == 0  # the default collection has no codes
    metrics = parse_metrics(srv.get("/metrics").text)
    assert metrics[("lynx_memory_bytes", frozenset({("collection", "q"), ("part", "codes")}))] == stats["memory"]["code_bytes"]
    assert metrics[("lynx_memory_bytes", frozenset({("collection", "default"), ("part", "codes")}))] == 0

    queries = clustered(30, seed=2)
    truth = [sorted(range(N), key=lambda i: cosine_distance(q, vectors[i]))[:10] for q in queries]

    def check(srv) -> tuple[list, list]:
        """Rescored answers: exact distances and recall; estimates: near the exact ones, and not all equal to them."""
        rescored, estimated = search_all(srv, queries), search_all(srv, queries, rescore=False)
        hits = sum(len(set(t) & {i for i, _ in answer}) for t, answer in zip(truth, rescored))
        print(f"recall@10 over HTTP ({codes}, rescored, ef 64): {hits / (10 * len(queries))}")
        assert hits / (10 * len(queries)) >= 0.9, hits
        for q, answer in zip(queries, rescored):
            assert len(answer) == 10
            for i, d in answer:
                assert d == pytest.approx(cosine_distance(q, vectors[i]), abs=1e-5)
        for q, answer in zip(queries, estimated):
            for i, d in answer:
                assert d == pytest.approx(cosine_distance(q, vectors[i]), abs=tolerance)
        assert estimated != rescored
        for q, answer in zip(queries, search_all(srv, queries, oversample=1)):
            assert len(answer) == 10 and all(d == pytest.approx(cosine_distance(q, vectors[i]), abs=1e-5) for i, d in answer)
        stats = srv.get("/collections/q/stats").json()
        assert stats["index"]["quantizer"] == "fitted" and stats["memory"]["code_bytes"] >= N * code_bytes, stats
        return rescored, estimated

    check(srv)
    srv.kill()  # the records come back from the log, and are coded again as they are linked
    again = start_server(data_dir=srv.data_dir)
    again.wait_linked(collection="q")
    check(again)
    assert again.post("/collections/q/checkpoint", json={}).status_code == 200
    rescored, estimated = check(again)
    assert again.stop() == 0
    third = start_server(data_dir=srv.data_dir)  # from the snapshot: graph, quantizer and codes as they were
    assert "loaded snapshot without rebuilding the index" in third.log_text()
    assert search_all(third, queries) == rescored
    assert search_all(third, queries, rescore=False) == estimated


def test_quantization_settings_and_search_options_are_checked(start_server):
    srv = start_server()
    cases = [
        ({"dimension": 3, "quantization": "sq8"}, 400, "quantization"),
        ({"dimension": 3, "quantization": {"type": "pq"}}, 400, "quantization.type"),
        ({"dimension": 3, "quantization": {}}, 400, "quantization.type"),
        ({"dimension": 3, "quantization": {"type": "sq8", "bits": 4}}, 400, "quantization.bits"),
        ({"dimension": 3, "index": "flat", "quantization": {"type": "sq8"}}, 400, "quantization"),
        ({"dimension": 3, "index": "ivf", "quantization": {"type": "sq8"}}, 400, "quantization"),
        ({"dimension": 3, "quantization": {"type": "rabitq"}}, 400, "quantization.bits"),
        ({"dimension": 3, "quantization": {"type": "rabitq", "bits": 0}}, 400, "quantization.bits"),
        ({"dimension": 3, "quantization": {"type": "rabitq", "bits": 9}}, 400, "quantization.bits"),
        ({"dimension": 3, "quantization": {"type": "rabitq", "bits": 4.5}}, 400, "quantization.bits"),
        ({"dimension": 3, "quantization": {"type": "rabitq", "bits": "4"}}, 400, "quantization.bits"),
        ({"dimension": 3, "quantization": {"type": "rabitq", "bits": 4, "seed": 1}}, 400, "quantization.seed"),
        ({"dimension": 3, "index": "flat", "quantization": {"type": "rabitq", "bits": 4}}, 400, "quantization"),
        ({"dimension": 3, "index": "ivf", "quantization": {"type": "rabitq", "bits": 1}}, 400, "quantization"),
        ({"dimension": 4096, "quantization": {"type": "rabitq", "bits": 1}}, 422, "dimension"),
    ]
    for body, status, field in cases:
        problem = assert_problem(srv.request("PUT", "/collections/c", json=body), status)
        assert problem.get("field") == field, (body, problem)
    assert srv.get("/collections/c").status_code == 404
    # none is allowed for every index, and is what a collection made without the setting shows
    assert srv.request("PUT", "/collections/f", json={"dimension": 3, "index": "flat", "quantization": {"type": "none"}}).status_code == 201
    assert srv.get("/collections/f").json()["settings"]["quantization"] == {"type": "none"}
    for extra, status, field in [({"oversample": 0.5}, 422, "oversample"), ({"oversample": 1e300}, 422, "oversample"),
                                 ({"oversample": "4"}, 400, "oversample"), ({"rescore": 1}, 400, "rescore")]:
        problem = assert_problem(srv.post("/search", json={"vector": [0.5] * 4, **extra}), status)
        assert problem.get("field") == field, (extra, problem)


def test_the_flag_makes_the_default_collection_with_codes(start_server, tmp_path):
    result = run_lynxd(["--data-dir", str(tmp_path / "bad"), "--index", "flat", "--quantization", "sq8"])
    assert result.returncode != 0 and "--quantization sq8 is for the hnsw index" in result.stderr.decode(), result.stderr
    srv = start_server(dimension=8, index="hnsw", quantization="sq8")
    assert srv.get("/collections/default").json()["settings"]["quantization"] == {"type": "sq8"}
    assert srv.stop() == 0
    result = run_lynxd(["--data-dir", str(srv.data_dir), "--index", "hnsw", "--quantization", "none", "--port", "0"])
    assert result.returncode != 0 and "quantization" in result.stderr.decode(), result.stderr
    for bad in ["rabitq:9", "rabitq", "rabitq:x"]:
        result = run_lynxd(["--data-dir", str(tmp_path / "bad"), "--index", "hnsw", "--quantization", bad])
        assert result.returncode != 0 and "rabitq:B (B in 1...8)" in result.stderr.decode(), (bad, result.stderr)
    srv = start_server(data_dir=tmp_path / "rabitq", dimension=8, index="hnsw", quantization="rabitq:2")
    assert srv.get("/collections/default").json()["settings"]["quantization"] == {"type": "rabitq", "bits": 2}
    assert srv.stop() == 0
    result = run_lynxd(["--data-dir", str(tmp_path / "rabitq"), "--index", "hnsw", "--quantization", "rabitq:3", "--port", "0"])
    assert result.returncode != 0 and "quantization" in result.stderr.decode(), result.stderr


@pytest.mark.parametrize("codes", ["sq8", "rabitq:4"])
def test_codes_survive_a_backup_and_a_damaged_code_chunk_is_found(start_server, tmp_path, codes):
    """A backup carries the quantizer and the codes: the restored collection answers exactly as the source did,
    estimates included. A flipped byte in a chunk file of codes is reported by `lynxd check`."""
    from test_backup import download, restore
    from test_operator_tools import check, findings

    src = start_server(data_dir=tmp_path / "src")
    setting = CODES[codes][0]
    body = {"dimension": DIM, "metric": "cosine", "quantization": setting}
    assert src.request("PUT", "/collections/q", json=body).status_code == 201
    vectors = clustered(N, seed=5)
    for start in range(0, N, 500):
        batch = [{"id": i, "vector": v} for i, v in enumerate(vectors[start:start + 500], start)]
        assert src.post("/collections/q/vectors", json={"vectors": batch}).status_code == 200
    src.wait_linked(collection="q")
    assert src.post("/collections/q/checkpoint", json={}).status_code == 200
    queries = clustered(20, seed=6)
    rescored, estimated = search_all(src, queries), search_all(src, queries, rescore=False)
    made = src.post("/collections/q/snapshots", json={"name": "q-1"})
    assert made.status_code == 201, made.text
    archive = download(src, "q-1", tmp_path / "q.tar", prefix="/collections/q")
    assert src.stop() == 0

    dest = tmp_path / "dest"
    done = restore(archive, dest, "--collection", "q")
    assert done.returncode == 0, done.stderr
    dst = start_server(data_dir=dest)
    assert dst.get("/collections/q").json()["settings"]["quantization"] == setting
    assert search_all(dst, queries) == rescored
    assert search_all(dst, queries, rescore=False) == estimated
    assert dst.stop() == 0

    # The codes' chunk files hold rows of ceil(24 / 4) = 6 cells (sq8) or ceil(16 / 4) = 4 (rabitq:4, 16 bytes a
    # code): the smallest files of the collection.
    rows = sorted((dest / "collections" / "q" / "rows").glob("*.lrows"), key=lambda p: p.stat().st_size)
    assert len(rows) == 4, rows  # two chunks of vectors, two of codes
    code_chunk = rows[0]
    data = bytearray(code_chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    code_chunk.write_bytes(bytes(data))
    rc, report = check(dest)
    assert rc == 1
    damage = findings(report, "damage")
    assert any(code_chunk.name in d["file"] for d in damage), damage


def test_a_rebuild_refits_rabitq_codes_while_writes_and_searches_go_on(start_server):
    """Vectors far from the centroid the first 1,024 were coded around; `POST /index/rebuild` fits it again while
    another client keeps writing: every acknowledged record is found by its own vector before, during and after,
    and the estimates are sharper after (rescore false)."""
    import threading

    srv = start_server()
    body = {"dimension": DIM, "metric": "l2", "quantization": {"type": "rabitq", "bits": 4}}
    assert srv.request("PUT", "/collections/q", json=body).status_code == 201
    first, later = clustered(1100, seed=8), [f32v(x + 5 for x in v) for v in clustered(1500, seed=9)]
    vectors = {i: v for i, v in enumerate(first + later)}
    for start in range(0, len(vectors), 500):
        batch = [{"id": i, "vector": vectors[i]} for i in range(start, min(start + 500, len(vectors)))]
        assert srv.post("/collections/q/vectors", json={"vectors": batch}).status_code == 200
    for i in range(len(first)):  # the fit's vectors go; the centroid stays theirs until the rebuild
        assert srv.request("DELETE", f"/collections/q/vectors/{i}").status_code == 200
        del vectors[i]
    srv.wait_linked(collection="q")

    def found(ids) -> int:
        # A wide beam and 20 candidates rescored, so that a miss is a record the index lacks, not one the graph
        # search or the estimates passed by (at 24 dimensions a few bits' estimates err by a good part of the
        # distances between neighbours).
        query = {"k": 1, "ef_search": 400, "oversample": 20}
        return sum(srv.post("/collections/q/search", json={"vector": vectors[i], **query}).json()["results"][0]["id"] == i
                   for i in ids)

    def raw_recall() -> float:
        ids = sorted(vectors)[::50]
        hits = 0
        for i in ids:
            truth = sorted(vectors, key=lambda j: sum((a - b) ** 2 for a, b in zip(vectors[i], vectors[j])))[:10]
            got = srv.post("/collections/q/search", json={"vector": vectors[i], "k": 10, "rescore": False}).json()["results"]
            hits += len(set(truth) & {h["id"] for h in got})
        return hits / (10 * len(ids))

    before = raw_recall()
    written: list[int] = []
    stop = threading.Event()

    def writer():
        n = 10_000
        while not stop.is_set():
            v = f32v(x + 5 for x in clustered(1, seed=n)[0])
            if srv.post("/collections/q/vectors", json={"vectors": [{"id": n, "vector": v}]}).status_code == 200:
                vectors[n] = v
                written.append(n)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert srv.post("/collections/q/index/rebuild", json={}).status_code == 200
        during = list(written)
        assert found(during) == len(during)  # acknowledged before or during the rebuild, found right after
    finally:
        stop.set()
        thread.join()
    srv.wait_linked(collection="q")
    assert found(sorted(vectors)) == len(vectors)
    after = raw_recall()
    print(f"rabitq:4 estimates, recall@10 (rescore false) before the rebuild {before}, after {after}; {len(written)} writes during it")
    assert written and after > before + 0.05, (before, after)

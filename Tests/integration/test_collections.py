"""Collections: many named stores in one lynxd, each with its own dimension, metric, index, log and snapshots.

Real lynxd processes over HTTP on 127.0.0.1; crashes are SIGKILL. The single-store routes keep working on the
collection `default`, and a data directory written by the single-store release opens as `default`.
"""
from __future__ import annotations

import random
import shutil
import threading
import time
from pathlib import Path

import pytest

from lynx_helpers import assert_problem, f32v

pytestmark = pytest.mark.live

FIXTURE = Path(__file__).parent / "fixtures" / "single-store-release"


def put(srv, name: str, settings: dict):
    return srv.request("PUT", f"/collections/{name}", json=settings)


def listed(srv) -> dict:
    r = srv.get("/collections")
    assert r.status_code == 200, r.text
    return {c["name"]: c for c in r.json()["collections"]}


def test_create_use_and_delete_a_collection(server):
    r = put(server, "books", {"dimension": 3, "metric": "cosine", "index": "flat"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "books" and body["status"] == "ready" and body["count"] == 0
    assert body["settings"] == {"dimension": 3, "metric": "cosine", "index": "flat", "quantization": {"type": "none"}, "on_disk": False}

    # The same settings again: 200, nothing changes; defaults count as given.
    assert put(server, "books", {"dimension": 3, "metric": "cosine", "index": "flat"}).status_code == 200
    r = put(server, "hnswc", {"dimension": 2})
    assert r.status_code == 201 and r.json()["settings"] == {"dimension": 2, "metric": "l2", "index": "hnsw", "m": 16, "ef_construction": 200, "quantization": {"type": "none"}, "on_disk": False}
    assert put(server, "hnswc", {"dimension": 2, "metric": "l2", "index": "hnsw", "m": 16}).status_code == 200
    # Other settings: 409 with the existing ones, nothing changed.
    for other in ({"dimension": 4, "metric": "cosine", "index": "flat"}, {"dimension": 3, "index": "flat"},
                  {"dimension": 3, "metric": "cosine"}):
        problem = assert_problem(put(server, "books", other), 409, "collection-conflict")
        assert problem["existing"] == {"dimension": 3, "metric": "cosine", "index": "flat", "quantization": {"type": "none"}, "on_disk": False}
    assert_problem(put(server, "hnswc", {"dimension": 2, "m": 8}), 409, "collection-conflict")

    # Writes to one collection are never visible in another, even with the same ids.
    assert server.post("/collections/books/vectors", json={"id": 1, "vector": [1, 0, 0], "metadata": {"in": "books"}}).status_code == 200
    assert server.post("/vectors", json={"id": 1, "vector": [0, 0, 0, 9]}).status_code == 200
    assert server.post("/collections/hnswc/vectors", json={"vectors": [{"id": 2, "vector": [5, 5]}]}).status_code == 200
    assert server.get("/collections/books/vectors/1").json() == {"id": 1, "vector": [1.0, 0.0, 0.0], "metadata": {"in": "books"}}
    assert server.get("/vectors/1").json()["vector"] == [0.0, 0.0, 0.0, 9.0]
    assert server.get("/collections/default/vectors/1").json()["vector"] == [0.0, 0.0, 0.0, 9.0]
    assert_problem(server.get("/collections/hnswc/vectors/1"), 404, "not-found")
    assert_problem(server.get("/collections/books/vectors/2"), 404, "not-found")
    hits = server.post("/collections/books/search", json={"vector": [1, 0, 0], "k": 10}).json()["results"]
    assert [h["id"] for h in hits] == [1]
    # Each collection checks its own dimension.
    assert_problem(server.post("/collections/books/vectors", json={"id": 3, "vector": [1, 0, 0, 0]}), 422, "dimension-mismatch")
    assert server.get("/collections/books/stats").json()["dimension"] == 3

    all_ = listed(server)
    assert list(all_) == ["default", "books", "hnswc"]
    assert all_["books"]["count"] == 1 and all_["default"]["count"] == 1 and all_["hnswc"]["count"] == 1
    detail = server.get("/collections/books").json()
    assert detail["count"] == 1 and detail["wal"]["last_lsn"] == 1

    folder = server.data_dir / "collections" / "books"
    assert (folder / "MANIFEST").exists()
    r = server.delete("/collections/books")
    assert r.status_code == 200 and r.json() == {"deleted": "books"}
    assert not folder.exists()
    assert [p.name for p in (server.data_dir / "collections").iterdir()] == ["hnswc"]
    assert_problem(server.get("/collections/books"), 404, "collection-not-found")
    assert_problem(server.post("/collections/books/search", json={"vector": [1, 0, 0]}), 404, "collection-not-found")
    assert_problem(server.delete("/collections/books"), 404, "collection-not-found")
    assert list(listed(server)) == ["default", "hnswc"]
    # A new collection of the same name starts empty.
    assert put(server, "books", {"dimension": 5}).status_code == 201
    assert server.get("/collections/books").json()["count"] == 0


def test_bad_names_and_settings_are_refused_and_change_nothing(server):
    before = listed(server)
    for name in ["a.b", "x" * 65, "caf%C3%A9", "a%20b", ".creating-x", "%2E%2E"]:
        assert_problem(put(server, name, {"dimension": 3}), 400, "invalid-collection-name")
        assert_problem(server.post(f"/collections/{name}/search", json={"vector": [1, 2, 3]}), 400, "invalid-collection-name")
    cases = [
        ({}, 400, "invalid-request", "dimension"),
        ({"dimension": "3"}, 400, "invalid-request", "dimension"),
        ({"dimension": 3.5}, 400, "invalid-request", "dimension"),
        ({"dimension": 0}, 422, "out-of-range", "dimension"),
        ({"dimension": 65537}, 422, "out-of-range", "dimension"),
        ({"dimension": 3, "metric": "manhattan"}, 400, "invalid-request", "metric"),
        ({"dimension": 3, "index": "lsh"}, 400, "invalid-request", "index"),
        ({"dimension": 3, "index": "flat", "m": 8}, 400, "invalid-request", "m"),
        ({"dimension": 3, "index": "hnsw", "n_clusters": 8}, 400, "invalid-request", "n_clusters"),
        ({"dimension": 3, "m": 1}, 422, "out-of-range", "m"),
        ({"dimension": 3, "ef_construction": 0}, 422, "out-of-range", "ef_construction"),
        ({"dimension": 3, "index": "ivf", "spill": 2}, 422, "out-of-range", "spill"),
        ({"dimension": 3, "shards": 2}, 400, "invalid-request", "shards"),
    ]
    for body, status, slug, field in cases:
        problem = assert_problem(put(server, "c", body), status, slug)
        assert problem.get("field") == field, (body, problem)
    assert_problem(server.request("PUT", "/collections/c", data=b"[1]", headers={"content-type": "application/json"}), 400)
    assert_problem(server.request("PUT", "/collections/c", data=b"{", headers={"content-type": "application/json"}), 400, "invalid-json")
    assert_problem(server.request("PUT", "/collections/c", data=b'{"dimension": 3}', headers={"content-type": "text/plain"}), 415)
    assert_problem(server.request("PUT", "/collections/c?x=1", json={"dimension": 3}), 400, "invalid-request")
    assert_problem(server.delete("/collections/default"), 409, "collection-protected")
    assert_problem(server.request("POST", "/collections/c", json={"dimension": 3}), 405, "method-not-allowed")
    assert listed(server) == before
    assert not (server.data_dir / "collections").exists() or not any((server.data_dir / "collections").iterdir())


def test_max_collections_is_enforced(start_server):
    srv = start_server(max_collections=2)
    assert put(srv, "a", {"dimension": 2}).status_code == 201
    assert put(srv, "b", {"dimension": 2}).status_code == 201
    problem = assert_problem(put(srv, "c", {"dimension": 2}), 409, "too-many-collections")
    assert problem["limit"] == 2
    assert put(srv, "a", {"dimension": 2}).status_code == 200  # an existing one is not a new one
    assert srv.delete("/collections/b").status_code == 200
    assert put(srv, "c", {"dimension": 2}).status_code == 201


def _settings(i: int) -> dict:
    kind = ["flat", "hnsw", "ivf"][i % 3]
    return {"dimension": 2 + i % 5, "metric": ["l2", "cosine", "dot"][i % 3 if kind != "ivf" else 0], "index": kind}


def _record(i: int, j: int, dim: int) -> dict:
    return {"id": j, "vector": [float(i + 1), float(j + 1)] + [0.5 * k for k in range(dim - 2)], "metadata": {"c": i, "j": j}}


@pytest.mark.slow
def test_a_hundred_collections_across_a_kill_and_a_restart(start_server):
    srv = start_server()
    n = 100
    for i in range(n):
        assert put(srv, f"c{i}", _settings(i)).status_code == 201
        dim = _settings(i)["dimension"]
        assert srv.post(f"/collections/c{i}/vectors", json={"vectors": [_record(i, j, dim) for j in range(3)]}).status_code == 200
    threads_before = int(next(l for l in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines() if l.startswith("Threads:")).split()[1])
    data_dir = srv.data_dir
    srv.kill()

    again = start_server(data_dir=data_dir)
    all_ = listed(again)
    assert len(all_) == n + 1
    for i in range(n):
        c = all_[f"c{i}"]
        s = _settings(i)
        assert {k: c["settings"][k] for k in ("dimension", "metric", "index")} == s, c
        assert c["count"] == 3 and c["status"] == "ready", c
        for j in range(3):
            got = again.get(f"/collections/c{i}/vectors/{j}").json()
            want = _record(i, j, s["dimension"])
            assert got == {"id": j, "vector": f32v(want["vector"]), "metadata": want["metadata"]}
    health = again.health()
    assert len(health["collections"]) == n + 1 and all(c["status"] == "ready" for c in health["collections"])
    metrics = again.get("/metrics").text
    for i in range(n):
        assert f'lynx_vectors{{collection="c{i}"}} 3' in metrics
    # Threads do not grow with the collections: measured here rather than assumed.
    print(f"threads with {n} collections: {threads_before}")


@pytest.mark.slow
def test_sigkill_during_create_and_delete_loops_never_leaves_half_a_collection(start_server, tmp_path):
    """Creates and deletes in a loop, SIGKILL at a random moment, restart: every collection is whole or absent, and
    each acknowledged create or delete holds (unless a later acknowledged one of the same name undid it)."""
    rng = random.Random(12)
    data_dir = tmp_path / "data"
    names = [f"k{i}" for i in range(6)]
    srv = start_server(data_dir=data_dir)
    deadline = time.monotonic() + 40
    rounds = 0
    while time.monotonic() < deadline and rounds < 8:
        rounds += 1
        acked: dict[str, bool] = {}  # name -> exists, after the last acknowledged operation
        stop = threading.Event()

        def churn():
            while not stop.is_set():
                name = rng.choice(names)
                try:
                    if rng.random() < 0.6:
                        r = put(srv, name, _settings(names.index(name)))
                        if r.status_code in (200, 201):
                            acked[name] = True
                    else:
                        r = srv.delete(f"/collections/{name}")
                        if r.status_code in (200, 404):
                            acked[name] = False
                except Exception:
                    return  # the server was killed under the request

        t = threading.Thread(target=churn)
        t.start()
        time.sleep(rng.uniform(0.05, 0.6))
        srv.kill()
        stop.set()
        t.join(10)
        srv = start_server(data_dir=data_dir)
        entries = sorted(p.name for p in (data_dir / "collections").iterdir()) if (data_dir / "collections").exists() else []
        assert all(not e.startswith(".") for e in entries), f"unfinished entries left after restart: {entries}"
        now = listed(srv)
        for name in names:
            if name in now:
                s = _settings(names.index(name))
                assert {k: now[name]["settings"][k] for k in ("dimension", "metric", "index")} == s
                dim = s["dimension"]
                assert srv.post(f"/collections/{name}/vectors", json=_record(0, 1, dim)).status_code == 200
                assert srv.get(f"/collections/{name}/vectors/1").status_code == 200
        # An acknowledged state can only have been changed by the one request in flight at the kill.
        changed = [n for n, exists in acked.items() if (n in now) != exists]
        assert len(changed) <= 1, f"acknowledged creates/deletes lost: {changed} (acked {acked}, now {sorted(now)})"
    assert rounds >= 3


def fixture_records() -> dict[int, dict]:
    """What the fixture's writer wrote (see fixtures/single-store-release/README.md)."""
    recs = {i: {"id": i, "vector": f32v([1 + i % 7, (i * 3) % 5 + 0.5, (i % 11) - 5.25, 2.0]),
                "metadata": {"n": i, "tag": ["a", "b", "c"][i % 3]}} for i in range(40)}
    del recs[5], recs[33]
    return recs


def test_a_single_store_data_directory_opens_as_default(start_server, tmp_path):
    data_dir = tmp_path / "release"
    shutil.copytree(FIXTURE, data_dir, ignore=shutil.ignore_patterns("README.md"))
    srv = start_server(data_dir=data_dir, dimension=4, metric="cosine", index="hnsw")
    want = fixture_records()
    assert srv.health()["count"] == len(want) == 38
    for i in range(40):
        r = srv.get(f"/vectors/{i}")
        if i in want:
            assert r.status_code == 200 and r.json() == want[i], (i, r.text)
            assert srv.get(f"/collections/default/vectors/{i}").json() == want[i]
        else:
            assert_problem(r, 404, "not-found")
    assert list(listed(srv)) == ["default"]
    assert listed(srv)["default"]["settings"] == {"dimension": 4, "metric": "cosine", "index": "hnsw", "m": 16, "ef_construction": 200, "quantization": {"type": "none"}, "on_disk": False}
    hits = srv.post("/collections/default/search", json={"vector": want[7]["vector"], "k": 1}).json()["results"]
    assert hits[0]["id"] == 7
    # Started without flags, it keeps the manifest's settings.
    srv.stop()
    again = start_server(data_dir=data_dir, defaults=False, extra_args=["--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)])
    assert again.health()["count"] == 38


@pytest.mark.slow
def test_health_is_not_ready_while_a_collection_recovers(start_server):
    # Without background linking an HNSW collection replays into its graph, slowly enough to be seen.
    srv = start_server(index_threads=0, checkpoint_wal_bytes=1 << 34, checkpoint_interval=86400)
    dim = 48
    assert put(srv, "slow", {"dimension": dim, "ef_construction": 200}).status_code == 201
    rng = random.Random(3)
    for start in range(0, 6000, 1000):
        batch = [{"id": i, "vector": [rng.uniform(-1, 1) for _ in range(dim)]} for i in range(start, start + 1000)]
        assert srv.post("/collections/slow/vectors", json={"vectors": batch}).status_code == 200
    data_dir = srv.data_dir
    srv.kill()
    again = start_server(data_dir=data_dir, index_threads=0, wait=False)
    again.wait_listening()
    seen = []
    refused_while_recovering = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = again.get("/health", timeout=5)
        if r.status_code == 200:
            break
        assert r.status_code == 503 and r.headers.get("Retry-After") == "1", r.text
        body = r.json()
        assert body["status"] == "recovering", body
        states = {c["name"]: c["status"] for c in body["collections"]}
        seen.append(states)
        if states.get("default") == "ready" and states.get("slow") == "recovering":
            # The ready collection serves while the other recovers; the recovering one answers 503, unless its
            # recovery ended between the two requests (then it is ready and serves).
            assert again.get("/vectors/1").status_code == 404
            r = again.get("/collections/slow/vectors/1")
            if r.status_code == 200:
                assert again.get("/collections/slow").json()["status"] == "ready", r.text[:200]
            else:
                assert_problem(r, 503, "unavailable")
                refused_while_recovering += 1
        time.sleep(0.02)
    assert any(s.get("slow") == "recovering" for s in seen), seen[:3]
    assert refused_while_recovering >= 1, "the recovering collection was never asked while it recovered"

    assert again.get("/collections/slow").json()["count"] == 6000

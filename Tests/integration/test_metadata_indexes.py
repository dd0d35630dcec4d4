"""Metadata indexes against a real lynxd: PUT/GET/DELETE /indexes/{field}, GET /indexes, their errors, their
durability across SIGKILL and checkpoints, and the filtered-search planner they feed (docs/METADATA_INDEXES.md)."""
import random
import re

import pytest

from lynx_helpers import assert_problem, distance, state_snapshot


def records(n, seed=1, dim=4):
    rng = random.Random(seed)
    return [{"id": i, "vector": [rng.uniform(-1, 1) for _ in range(dim)],
             "metadata": {"g": f"g{i % 7}", "b": i % 3 == 0, "n": i % 11, "meta": {"year": 2000 + i % 5}}}
            for i in range(n)]


def search(server, vector, k=10, **body):
    r = server.post("/search", json={"vector": vector, "k": k, **body})
    assert r.status_code == 200, r.text
    return r.json()


def indexes(server):
    r = server.get("/indexes")
    assert r.status_code == 200, r.text
    return r.json()["indexes"]


def plans_counted(server):
    text = server.get("/metrics").text
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'^lynx_search_plans_total\{collection="default",plan="(\w+)"\} (\S+)$', text, re.M)}


def test_create_list_describe_and_drop(server):
    server.upsert({"vectors": records(30)})
    r = server.request("PUT", "/indexes/g", json={"type": "keyword"})
    assert r.status_code == 201, r.text
    assert r.json()["created"] is True and r.json()["field"] == "g" and r.json()["durable"] is False
    again = server.request("PUT", "/indexes/g", json={"type": "keyword"})
    assert again.status_code == 200 and again.json()["created"] is False
    r = server.request("PUT", "/indexes/meta.year?durable=true", json={"type": "integer"})
    assert r.status_code == 201 and r.json()["durable"] is True
    assert indexes(server) == [
        {"field": "g", "type": "keyword", "indexed_records": 30, "distinct_values": 7, "other_type_records": 0},
        {"field": "meta.year", "type": "integer", "indexed_records": 30, "distinct_values": 5, "other_type_records": 0},
    ]
    assert server.get("/indexes/meta.year").json()["distinct_values"] == 5
    r = server.delete("/indexes/g")
    assert r.status_code == 200 and r.json()["dropped"] == "g"
    assert_problem(server.get("/indexes/g"), 404, "not-found")
    assert [i["field"] for i in indexes(server)] == ["meta.year"]


@pytest.mark.parametrize("body, field", [
    ({"type": "text"}, "type"),
    ({"type": 3}, "type"),
    ({}, "type"),
    ({"type": "keyword", "extra": 1}, "extra"),
    ([], None),
])
def test_malformed_creates_are_400_and_change_nothing(server, body, field):
    server.upsert({"vectors": records(5)})
    server.request("PUT", "/indexes/n", json={"type": "integer"})
    before = (state_snapshot(server, [0]), indexes(server))
    problem = assert_problem(server.request("PUT", "/indexes/g", json=body), 400, "invalid-request")
    assert problem.get("field") == field
    assert (state_snapshot(server, [0]), indexes(server)) == before


def test_conflicts_and_unknown_fields(server):
    server.upsert({"vectors": records(5)})
    assert server.request("PUT", "/indexes/n", json={"type": "integer"}).status_code == 201
    before = (state_snapshot(server), indexes(server))
    body = assert_problem(server.request("PUT", "/indexes/n", json={"type": "float"}), 409, "conflict")
    assert "integer" in body["detail"]
    assert_problem(server.delete("/indexes/nothing"), 404, "not-found")
    assert_problem(server.request("PUT", "/indexes/a..b", json={"type": "bool"}), 400, "invalid-request")
    assert_problem(server.post("/indexes/n", json={"type": "float"}), 405, "method-not-allowed")
    assert (state_snapshot(server), indexes(server)) == before


def test_indexes_survive_sigkill_and_checkpoints(start_server, tmp_path):
    data = tmp_path / "data"
    srv = start_server(data_dir=data, index="hnsw")
    srv.upsert({"vectors": records(200)})
    assert srv.request("PUT", "/indexes/g", json={"type": "keyword"}).status_code == 201
    srv.kill()
    srv = start_server(data_dir=data, index="hnsw")
    assert [i["field"] for i in indexes(srv)] == ["g"]
    # Writes after the create: replaced, deleted and new records.
    srv.upsert({"vectors": [dict(r, metadata={"g": "new"}) for r in records(260)[190:]]})
    assert srv.delete("/vectors/3").status_code == 200
    srv.kill()
    expected = {"field": "g", "type": "keyword", "indexed_records": 259, "distinct_values": 8, "other_type_records": 0}
    for stop in ("kill", "checkpoint"):
        srv = start_server(data_dir=data, index="hnsw")
        assert indexes(srv) == [expected]
        got = search(srv, [0, 0, 0, 0], k=100, filter={"g": "new"}, explain=True)
        assert got["plan"] == {"kind": "exact", "estimated_matches": 70}
        assert sorted(h["id"] for h in got["results"]) == list(range(190, 260))
        got = search(srv, [0, 0, 0, 0], k=100, filter={"g": "g3"}, explain=True)
        assert sorted(h["id"] for h in got["results"]) == [i for i in range(3, 190, 7) if i != 3]
        if stop == "checkpoint":
            assert srv.post("/checkpoint").status_code == 200
        srv.kill()
    srv = start_server(data_dir=data, index="hnsw")
    assert indexes(srv) == [expected]
    assert srv.delete("/indexes/g").status_code == 200
    srv.kill()
    srv = start_server(data_dir=data, index="hnsw")
    assert indexes(srv) == []


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_results_with_an_index_equal_results_without(start_server, index):
    srv = start_server(index=index)
    recs = records(500, seed=7)
    srv.upsert({"vectors": recs})
    rng = random.Random(3)
    cases = []
    for _ in range(60):
        f = {}
        for key in rng.sample(["g", "b", "n"], rng.randint(1, 2)):
            f[key] = {"g": f"g{rng.randrange(8)}", "b": rng.random() < 0.5, "n": rng.randrange(12)}[key]
        cases.append(([rng.uniform(-1, 1) for _ in range(4)], f))
    without = [search(srv, q, k=10, filter=f, explain=True) for q, f in cases]
    for field, type_ in (("g", "keyword"), ("b", "bool"), ("n", "integer")):
        assert srv.request("PUT", f"/indexes/{field}", json={"type": type_}).status_code == 201
    exact = 0
    for (q, f), before in zip(cases, without):
        after = search(srv, q, k=10, filter=f, explain=True)
        truth = sorted((distance("l2", q, r["vector"]), r["id"]) for r in recs
                       if all(r["metadata"][key] == value for key, value in f.items()))[:10]
        if index == "flat" or after["plan"]["kind"] == "exact":
            assert [h["id"] for h in after["results"]] == [i for _, i in truth], f
        if index == "flat":
            assert [h["id"] for h in after["results"]] == [h["id"] for h in before["results"]], f
        exact += after["plan"]["kind"] == "exact"
        assert before["plan"]["estimated_matches"] is None
    assert exact == len(cases), "every one of these filters matches at most 500 records: all plans exact"


def test_explain_forced_plans_and_the_metric(start_server):
    srv = start_server(index="hnsw")
    srv.upsert({"vectors": records(100)})
    assert "plan" not in search(srv, [0, 0, 0, 0], filter={"g": "g1"})
    assert search(srv, [0, 0, 0, 0], filter={"g": "g1"}, explain=True)["plan"] == {"kind": "graph", "estimated_matches": None}
    srv.request("PUT", "/indexes/g", json={"type": "keyword"})
    before = plans_counted(srv)
    assert search(srv, [0, 0, 0, 0], filter={"g": "g1"}, explain=True)["plan"] == {"kind": "exact", "estimated_matches": 15}
    assert search(srv, [0, 0, 0, 0], filter={"g": "g1"}, explain=True, plan="graph")["plan"]["kind"] == "graph"
    assert search(srv, [0, 0, 0, 0], explain=True)["plan"] == {"kind": "unfiltered", "estimated_matches": None}
    r = srv.post("/search/batch", json={"queries": [[0, 0, 0, 0]] * 3, "filter": {"g": "g1"}, "explain": True})
    assert r.status_code == 200 and r.json()["plan"]["kind"] == "exact" and len(r.json()["results"]) == 3
    after = plans_counted(srv)
    assert after["exact"] - before["exact"] == 4
    assert after["graph"] - before["graph"] == 1
    assert after["unfiltered"] - before["unfiltered"] == 1
    before_bad = state_snapshot(srv)
    body = assert_problem(srv.post("/search", json={"vector": [0, 0, 0, 0], "plan": "fast"}), 400, "invalid-request")
    assert body["field"] == "plan"
    body = assert_problem(srv.post("/search", json={"vector": [0, 0, 0, 0], "explain": "yes"}), 400, "invalid-request")
    assert body["field"] == "explain"
    assert state_snapshot(srv) == before_bad

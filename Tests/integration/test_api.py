"""Happy paths of every route of the contract, against a real lynxd."""
from __future__ import annotations

import re
import signal
import threading

import pytest
import requests

from lynx_helpers import U64_MAX, close, distance, f32, f32v, media_type

pytestmark = pytest.mark.live

# Deterministic 4-d points with well separated distances from QUERY under every metric.
POINTS = {
    1: [1.0, 0.0, 0.0, 0.0],
    2: [0.0, 2.0, 0.0, 0.0],
    3: [0.5, 0.5, 0.5, 0.7],
    4: [-1.0, 0.25, 3.0, 0.0],
    5: [2.0, 1.0, -0.5, 0.75],
    6: [0.1, -0.2, 0.3, -0.4],
    7: [3.0, 3.0, 0.0, 1.0],
    8: [-2.0, -1.5, -0.5, 1.25],
}
QUERY = [0.9, 0.4, 0.1, 0.2]


def _expected_order(metric, points, query, k):
    d = sorted((distance(metric, v, query), i) for i, v in points.items())
    return d[:k]


# --------------------------------------------------------------------------- upsert / get / delete


def test_single_upsert_then_get(server):
    r = server.post("/vectors", json={"id": 1, "vector": [1.0, 2.0, 3.0, 4.0], "metadata": {"a": 1, "b": "x"}})
    assert r.status_code == 200, r.text
    assert media_type(r) == "application/json"
    body = r.json()
    assert body["upserted"] == 1
    assert isinstance(body["lsn"], int) and body["lsn"] >= 0
    assert isinstance(body["durable"], bool)

    g = server.get("/vectors/1")
    assert g.status_code == 200, g.text
    assert media_type(g) == "application/json"
    assert g.json() == {"id": 1, "vector": [1.0, 2.0, 3.0, 4.0], "metadata": {"a": 1, "b": "x"}}


def test_batch_upsert(server):
    recs = [{"id": i, "vector": v} for i, v in list(POINTS.items())[:5]]
    recs[2]["metadata"] = {"k": [1, {"deep": True}]}
    body = server.upsert(recs)
    assert body["upserted"] == 5
    assert server.stats()["count"] == 5
    for rec in recs:
        g = server.get(f"/vectors/{rec['id']}")
        assert g.status_code == 200, g.text
        got = g.json()
        assert f32v(got.pop("vector")) == f32v(rec["vector"])
        assert got == {k: v for k, v in rec.items() if k != "vector"}


def test_upsert_replaces_vector_and_metadata(server):
    server.upsert({"id": 9, "vector": [1, 1, 1, 1], "metadata": {"v": 1}})
    server.upsert({"id": 9, "vector": [2, 2, 2, 2], "metadata": {"v": 2}})
    assert server.get("/vectors/9").json() == {"id": 9, "vector": [2, 2, 2, 2], "metadata": {"v": 2}}
    # A replacement without metadata leaves a record without metadata.
    server.upsert({"id": 9, "vector": [3, 3, 3, 3]})
    assert server.get("/vectors/9").json() == {"id": 9, "vector": [3, 3, 3, 3]}
    assert server.stats()["count"] == 1


def test_get_without_metadata_omits_member(server):
    server.upsert({"id": 3, "vector": [0.5, 0.25, 0.125, 0.0625]})
    body = server.get("/vectors/3").json()
    assert "metadata" not in body
    assert body == {"id": 3, "vector": [0.5, 0.25, 0.125, 0.0625]}


def test_get_with_nested_metadata_round_trips(server):
    meta = {"s": "h\u00e9llo \"q\" \\ \n", "n": -12.5, "i": 7, "b": False, "z": None,
            "arr": [1, "two", [3], {"four": 4}], "obj": {"a": {"b": {"c": []}}}, "e": {}}
    server.upsert({"id": 11, "vector": [1, 2, 3, 4], "metadata": meta})
    assert server.get("/vectors/11").json()["metadata"] == meta


def test_delete_then_get_404(server):
    up = server.upsert([{"id": 1, "vector": [1, 0, 0, 0]}, {"id": 2, "vector": [0, 1, 0, 0]}])
    r = server.delete("/vectors/1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deleted"] == 1
    assert isinstance(body["durable"], bool)
    assert body["lsn"] > up["lsn"]
    g = server.get("/vectors/1")
    assert g.status_code == 404
    assert g.headers["Content-Type"].startswith("application/problem+json")
    assert server.get("/vectors/2").status_code == 200
    assert server.stats()["count"] == 1
    # Deleted records are not found by search either.
    res = server.post("/search", json={"vector": [1, 0, 0, 0], "k": 10}).json()["results"]
    assert [x["id"] for x in res] == [2]


def test_delete_absent_is_404(server):
    server.upsert({"id": 1, "vector": [1, 0, 0, 0]})
    r = server.delete("/vectors/2")
    assert r.status_code == 404
    assert r.json()["type"] == "urn:lynx:problem:not-found"
    assert server.stats()["count"] == 1


def test_lsn_strictly_increases(server):
    lsns = [server.upsert({"id": i, "vector": [i, 0, 0, 0]})["lsn"] for i in range(5)]
    lsns.append(server.delete("/vectors/0").json()["lsn"])
    assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns), lsns


def test_durable_query_parameter(server):
    r = server.post("/vectors?durable=true", json={"id": 1, "vector": [1, 0, 0, 0]})
    assert r.status_code == 200, r.text
    assert r.json()["durable"] is True
    lsn = r.json()["lsn"]
    assert server.health()["wal"]["durable_lsn"] >= lsn
    r = server.post("/vectors?durable=false", json={"id": 2, "vector": [1, 0, 0, 0]})
    assert r.status_code == 200, r.text
    d = server.delete("/vectors/1?durable=true")
    assert d.status_code == 200, d.text
    assert d.json()["durable"] is True
    assert server.health()["wal"]["durable_lsn"] >= d.json()["lsn"]


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", 'Application/JSON; Charset="UTF-8"',
                                   "application/json;charset=utf8", "application/json; profile=x"])
def test_content_type_with_charset_is_accepted(server, ctype):
    r = server.post_raw("/vectors", b'{"id": 5, "vector": [1, 2, 3, 4]}', content_type=ctype)
    assert r.status_code == 200, r.text
    assert server.get("/vectors/5").status_code == 200


def test_extreme_ids_round_trip_exactly(server):
    big = 2**53 + 1  # not representable as a double
    server.upsert([{"id": 0, "vector": [1, 0, 0, 0]}, {"id": U64_MAX, "vector": [0, 1, 0, 0]},
                   {"id": big, "vector": [0, 0, 1, 0]}])
    for i in (0, U64_MAX, big):
        g = server.get(f"/vectors/{i}")
        assert g.status_code == 200, g.text
        assert g.json()["id"] == i
        assert re.search(rb'"id"\s*:\s*' + str(i).encode() + rb'\s*[,}]', g.content), g.content
    res = server.post("/search", json={"vector": [0, 1, 0, 0], "k": 3}).json()["results"]
    assert res[0]["id"] == U64_MAX
    assert {x["id"] for x in res} == {0, U64_MAX, big}
    d = server.delete(f"/vectors/{U64_MAX}")
    assert d.status_code == 200 and d.json()["deleted"] == U64_MAX


def test_vector_components_round_trip_bit_for_bit(server):
    # Extremes within the norm limit (|v| <= 9.2e18, so that every distance fits in float32):
    # a large component, the smallest normal float32, a subnormal, and decimals that are not exact in binary.
    v = [0.1, -9.0e18, 1.1754943508222875e-38, 1.401298464324817e-45]
    server.upsert({"id": 1, "vector": v})
    got = server.get("/vectors/1").json()["vector"]
    assert len(got) == 4
    assert [f32(x) for x in got] == f32v(v), (got, v)


def test_number_syntaxes_are_accepted(server):
    # Exponents, negative zero, integers written as numbers in vectors.
    r = server.post_raw("/vectors", b'{"id": 1, "vector": [1e0, -0.0, 2.5E-1, 3E+2]}')
    assert r.status_code == 200, r.text
    got = server.get("/vectors/1").json()["vector"]
    assert f32v(got) == [1.0, 0.0, 0.25, 300.0]


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
def test_search_nearest_first_with_exact_distances(start_server, metric):
    srv = start_server(metric=metric)
    srv.upsert([{"id": i, "vector": v} for i, v in POINTS.items()])
    exp = _expected_order(metric, POINTS, QUERY, 5)
    # The fixture's points must give an unambiguous order.
    assert all(b[0] - a[0] > 1e-3 for a, b in zip(exp, exp[1:])), exp
    r = srv.post("/search", json={"vector": QUERY, "k": 5})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["id"] for x in res] == [i for _, i in exp]
    for got, (d, _) in zip(res, exp):
        assert close(got["distance"], d), (metric, got, d)
        assert set(got) == {"id", "distance"}, got
    dists = [x["distance"] for x in res]
    assert dists == sorted(dists)


def test_search_exact_match_has_distance_zero(server):
    server.upsert([{"id": i, "vector": v} for i, v in POINTS.items()])
    res = server.post("/search", json={"vector": POINTS[5], "k": 1}).json()["results"]
    assert res[0]["id"] == 5
    assert abs(res[0]["distance"]) < 1e-6


def test_search_k_larger_than_count(server):
    server.upsert([{"id": i, "vector": POINTS[i]} for i in (1, 2, 3)])
    res = server.post("/search", json={"vector": QUERY, "k": 1000}).json()["results"]
    assert sorted(x["id"] for x in res) == [1, 2, 3]


def test_search_empty_store(server):
    r = server.post("/search", json={"vector": QUERY})
    assert r.status_code == 200, r.text
    assert r.json() == {"results": []}


def test_search_default_k_is_10(server):
    server.upsert([{"id": i, "vector": [float(i), 0, 0, 0]} for i in range(15)])
    res = server.post("/search", json={"vector": [0, 0, 0, 0]}).json()["results"]
    assert [x["id"] for x in res] == list(range(10))


def test_search_filter_returns_k_matches(server):
    recs = []
    for i in range(40):
        recs.append({"id": i, "vector": [float(i), 0, 0, 0],
                     "metadata": {"color": "red" if i % 4 == 3 else "blue", "n": i, "even": i % 2 == 0}})
    server.upsert(recs)
    # The 5 nearest red ones, although 30 blue ones are nearer than most of them.
    res = server.post("/search", json={"vector": [0, 0, 0, 0], "k": 5, "filter": {"color": "red"}}).json()["results"]
    assert [x["id"] for x in res] == [3, 7, 11, 15, 19]
    # Several keys: all must match.
    res = server.post("/search", json={"vector": [0, 0, 0, 0], "k": 3,
                                       "filter": {"color": "blue", "even": False}}).json()["results"]
    assert [x["id"] for x in res] == [1, 5, 9]
    # No match at all.
    res = server.post("/search", json={"vector": [0, 0, 0, 0], "filter": {"color": "green"}}).json()["results"]
    assert res == []


def test_search_filter_scalars(server):
    server.upsert([
        {"id": 1, "vector": [1, 0, 0, 0], "metadata": {"n": 3, "flag": True, "z": None, "s": "3"}},
        {"id": 2, "vector": [2, 0, 0, 0], "metadata": {"n": 3.0, "flag": False, "z": 0}},
        {"id": 3, "vector": [3, 0, 0, 0], "metadata": {"n": {"nested": 3}, "s": 3}},
        {"id": 4, "vector": [4, 0, 0, 0]},
    ])

    def ids(flt):
        r = server.post("/search", json={"vector": [0, 0, 0, 0], "k": 10, "filter": flt})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["results"]]

    assert ids({"n": 3}) == [1, 2]          # numbers compare by value
    assert ids({"n": 3.0}) == [1, 2]
    assert ids({"n": 30e-1}) == [1, 2]
    assert ids({"flag": True}) == [1]
    assert ids({"flag": False}) == [2]
    assert ids({"z": None}) == [1]          # null matches null only, and a missing key never matches
    assert ids({"s": "3"}) == [1]           # the string "3" is not the number 3
    assert ids({"s": 3}) == [3]
    assert ids({}) == [1, 2, 3, 4]
    assert ids({"missing": None}) == []


def test_search_include_metadata_and_vector(server):
    server.upsert([{"id": 1, "vector": [1, 0, 0, 0], "metadata": {"m": 1}},
                   {"id": 2, "vector": [0.5, 0, 0, 0]}])
    q = {"vector": [1, 0, 0, 0], "k": 2}
    res = server.post("/search", json=q).json()["results"]
    assert all(set(x) == {"id", "distance"} for x in res), res
    res = server.post("/search", json={**q, "include": ["metadata"]}).json()["results"]
    assert res[0] == {"id": 1, "distance": res[0]["distance"], "metadata": {"m": 1}}
    assert set(res[1]) == {"id", "distance"}  # no metadata: member omitted
    res = server.post("/search", json={**q, "include": ["vector"]}).json()["results"]
    assert res[0]["vector"] == [1, 0, 0, 0] and "metadata" not in res[0]
    assert res[1]["vector"] == [0.5, 0, 0, 0]
    res = server.post("/search", json={**q, "include": ["metadata", "vector"]}).json()["results"]
    assert res[0]["metadata"] == {"m": 1} and res[0]["vector"] == [1, 0, 0, 0]
    res = server.post("/search", json={**q, "include": []}).json()["results"]
    assert all(set(x) == {"id", "distance"} for x in res), res


def test_search_accepts_index_tuning_parameters(server):
    server.upsert([{"id": i, "vector": v} for i, v in POINTS.items()])
    for extra in ({"ef_search": 1}, {"ef_search": 10000}, {"n_probe": 1}, {"n_probe": 65536}, {"k": 1}, {"k": 1000}):
        r = server.post("/search", json={"vector": QUERY, **extra})
        assert r.status_code == 200, (extra, r.text)


# --------------------------------------------------------------------------- flush / checkpoint


def test_flush_returns_durable_lsn(server):
    lsn = server.upsert({"id": 1, "vector": [1, 0, 0, 0]})["lsn"]
    for kw in ({}, {"json": {}}, {"data": b"", "headers": {"Content-Type": "application/json"}}):
        r = server.post("/flush", **kw)
        assert r.status_code == 200, (kw, r.text)
        assert media_type(r) == "application/json"
        assert r.json()["durable_lsn"] >= lsn
    assert server.health()["wal"]["durable_lsn"] >= lsn


def test_checkpoint(server):
    lsn = server.upsert([{"id": i, "vector": POINTS[i]} for i in (1, 2, 3)])["lsn"]
    r = server.post("/checkpoint")
    assert r.status_code == 200, r.text
    c1 = r.json()
    assert c1["lsn"] >= lsn
    assert c1["duration_seconds"] >= 0
    assert server.health()["wal"]["checkpoint_lag_frames"] == 0
    lsn2 = server.upsert({"id": 4, "vector": POINTS[4]})["lsn"]
    assert server.health()["wal"]["checkpoint_lag_frames"] >= 1
    c2 = server.post("/checkpoint", json={}).json()
    assert c2["checkpoint_seq"] > c1["checkpoint_seq"]
    assert c2["lsn"] >= lsn2
    assert server.stats()["count"] == 4
    assert server.get("/vectors/4").json()["vector"] == POINTS[4]


# --------------------------------------------------------------------------- stats / health / metrics


def test_stats_counts_and_totals(server):
    s0 = server.stats()
    assert s0["count"] == 0 and s0["dimension"] == 4 and s0["metric"] == "l2"
    assert s0["index"]["type"] == "flat"
    server.upsert([{"id": 1, "vector": [1, 0, 0, 0], "metadata": {"name": "one"}},
                   {"id": 2, "vector": [0, 1, 0, 0]}, {"id": 3, "vector": [0, 0, 1, 0]}])
    server.delete("/vectors/2")
    for _ in range(3):
        assert server.post("/search", json={"vector": [1, 0, 0, 0], "k": 1}).status_code == 200
    s = server.stats()
    assert s["count"] == 2
    assert s["totals"]["inserts"] - s0["totals"]["inserts"] == 3
    assert s["totals"]["deletes"] - s0["totals"]["deletes"] == 1
    assert s["totals"]["searches"] - s0["totals"]["searches"] == 3
    assert s["memory"]["vector_bytes"] >= s["count"] * s["dimension"] * 4
    assert s["memory"]["metadata_bytes"] > 0
    for k in ("vector_bytes", "code_bytes", "index_bytes", "pending_bytes", "metadata_bytes", "metadata_index_bytes"):
        assert isinstance(s["memory"][k], int) and s["memory"][k] >= 0
    assert s["memory"]["total_bytes"] == sum(v for k, v in s["memory"].items() if k != "total_bytes")


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_stats_reports_metric_and_dimension(start_server, metric):
    srv = start_server(metric=metric, dimension=7)
    s = srv.stats()
    assert (s["metric"], s["dimension"], s["count"]) == (metric, 7, 0)


def test_health(server):
    h = server.health()
    assert h["status"] == "ok"
    assert h["count"] == 0
    lsn = server.upsert({"id": 1, "vector": [1, 0, 0, 0]})["lsn"]
    h = server.health()
    assert h["count"] == 1
    w = h["wal"]
    assert w["last_lsn"] >= lsn
    assert 0 <= w["durable_lsn"] <= w["last_lsn"]
    assert w["checkpoint_lag_frames"] >= 1 and w["checkpoint_lag_bytes"] > 0


CONTRACT_METRICS = [
    "lynx_http_requests_total", "lynx_http_request_duration_seconds", "lynx_vectors", "lynx_build_info",
    "lynx_searches_total", "lynx_upserts_total", "lynx_deletes_total", "lynx_memory_bytes",
    "lynx_wal_checkpoint_lag_bytes", "lynx_wal_checkpoint_lag_frames", "lynx_wal_checkpoint_age_seconds",
    "lynx_wal_unsynced_bytes", "lynx_wal_durable_lsn", "lynx_wal_bytes_written_total",
    "lynx_wal_fsync_duration_seconds", "lynx_wal_fsync_errors_total", "lynx_checkpoints_total",
    "lynx_checkpoint_duration_seconds", "lynx_checkpoint_row_chunks_total", "lynx_recovery_duration_seconds",
    "lynx_recovery_frames_replayed", "lynx_wal_invalid_frames_total",
]
SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?'
    r' ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|NaN|\+Inf|-Inf|Inf))( -?[0-9]+)?$')


def parse_metrics(text: str):
    """Minimal Prometheus 0.0.4 text parser: returns (families, samples); asserts every line's syntax."""
    families, samples = set(), []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 3 and parts[1] in ("TYPE", "HELP"):
                families.add(parts[2])
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a valid exposition line: {line!r}"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3).replace("Inf", "inf"))))
        name = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        families.update({m.group(1), name})
    return families, samples


def test_metrics_exposition(server):
    server.upsert({"id": 1, "vector": [1, 0, 0, 0], "metadata": {"a": 1}})
    server.get("/vectors/1")
    server.get("/vectors/424242")
    server.post("/search", json={"vector": [1, 0, 0, 0]})
    server.post("/checkpoint")
    r = server.get("/metrics")
    assert r.status_code == 200
    ctype = r.headers["Content-Type"].replace(" ", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    families, samples = parse_metrics(r.text)
    missing = [n for n in CONTRACT_METRICS if n not in families]
    assert not missing, f"metrics missing: {missing}"

    def values(name, **labels):
        return [v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items())]

    assert values("lynx_vectors") == [1.0]
    assert values("lynx_upserts_total") and values("lynx_upserts_total")[0] >= 1
    assert values("lynx_searches_total") and values("lynx_searches_total")[0] >= 1
    build = [lab for n, lab, v in samples if n == "lynx_build_info" and v == 1.0]
    assert build and build[0].get("version"), "lynx_build_info{version} 1 missing"
    parts = {lab.get("part") for n, lab, _ in samples if n == "lynx_memory_bytes"}
    assert parts == {"vectors", "codes", "index", "pending", "metadata", "metadata_indexes"}, parts
    assert values("lynx_wal_durable_lsn")
    # HTTP counters carry route templates, never raw paths.
    http = [lab for n, lab, _ in samples if n == "lynx_http_requests_total"]
    assert http and all({"route", "method", "code"} <= set(lab) for lab in http), http
    routes = {lab["route"] for lab in http}
    assert "/vectors/{id}" in routes, routes
    assert not any(re.search(r"/vectors/\d", rt) for rt in routes), routes
    assert values("lynx_http_requests_total", route="/vectors/{id}", method="GET", code="404")
    assert any(n == "lynx_http_request_duration_seconds_bucket" and lab.get("le") == "+Inf" for n, lab, _ in samples)
    assert any(n == "lynx_wal_fsync_duration_seconds_bucket" for n, _, _ in samples)
    assert any(n == "lynx_checkpoints_total" and "result" in lab for n, lab, _ in samples)


def _row_chunk_counts(server) -> dict:
    text = server.get("/metrics").text
    found = dict(re.findall(r'^lynx_checkpoint_row_chunks_total\{collection="default",action="(\w+)"\} (\d+)', text, re.M))
    return {k: int(v) for k, v in found.items()}


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_checkpoints_write_only_the_row_chunks_that_changed(start_server, index):
    # 2,500 vectors are three chunks of 1,024 rows, each in its own file under rows/.
    srv = start_server(index=index)
    for start in range(0, 2500, 500):
        srv.upsert([{"id": i, "vector": [i, 1, 2, 3]} for i in range(start, start + 500)])
    srv.wait_linked()  # (pending HNSW records go into the snapshot's pending section, not row chunks)
    assert srv.post("/checkpoint").status_code == 200
    assert _row_chunk_counts(srv) == {"written": 3, "reused": 0}
    first = {p.name for p in (srv.data_dir / "rows").glob("*.lrows")}
    assert len(first) == 3, first
    srv.upsert({"id": 2400, "vector": [-1, -1, -1, -1]})  # a row in the last chunk
    srv.wait_linked()
    assert srv.post("/checkpoint").status_code == 200
    assert _row_chunk_counts(srv) == {"written": 4, "reused": 2}
    second = {p.name for p in (srv.data_dir / "rows").glob("*.lrows")}
    assert len(second) == 3 and len(first & second) == 2, (first, second)
    data_dir = srv.data_dir
    srv.kill()
    again = start_server(data_dir=data_dir, index=index)
    assert again.stats()["count"] == 2500
    assert again.get("/vectors/2400").json()["vector"] == [-1, -1, -1, -1]
    assert again.get("/vectors/1000").json()["vector"] == [1000, 1, 2, 3]


# --------------------------------------------------------------------------- concurrency and persistence


def test_concurrent_upserts_all_applied(server):
    errors: list[str] = []

    def run(base: int) -> None:
        with requests.Session() as s:  # one connection per thread
            for i in range(25):
                r = s.post(server.url("/vectors"), json={"id": base + i, "vector": [base, i, 0, 1]}, timeout=15)
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=run, args=(t * 1000,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads), "upsert threads hung"
    assert not errors, errors[:3]
    assert server.stats()["count"] == 100


@pytest.mark.slow
def test_data_survives_clean_restart(start_server):
    a = start_server(dimension=4)
    a.upsert([{"id": 1, "vector": [1, 2, 3, 4], "metadata": {"x": 1}}, {"id": U64_MAX, "vector": [4, 3, 2, 1]}])
    a.delete("/vectors/1")
    a.upsert({"id": 2, "vector": [0.1, 0.2, 0.3, 0.4]})
    assert a.stop() == 0
    # No --dimension: the manifest's dimension is used.
    b = start_server(data_dir=a.data_dir, dimension=None)
    s = b.stats()
    assert (s["count"], s["dimension"]) == (2, 4)
    assert b.get("/vectors/1").status_code == 404
    assert b.get(f"/vectors/{U64_MAX}").json()["vector"] == [4, 3, 2, 1]
    assert f32v(b.get("/vectors/2").json()["vector"]) == f32v([0.1, 0.2, 0.3, 0.4])


@pytest.mark.slow
def test_durable_writes_survive_sigkill(start_server):
    a = start_server()
    a.upsert({"id": 1, "vector": [1, 0, 0, 0]}, durable=True)
    a.upsert({"id": 2, "vector": [0, 1, 0, 0]})
    lsn = a.upsert({"id": 3, "vector": [0, 0, 1, 0], "metadata": {"k": "v"}})["lsn"]
    assert a.post("/flush").json()["durable_lsn"] >= lsn
    a.kill()
    b = start_server(data_dir=a.data_dir)
    assert b.stats()["count"] == 3
    assert b.get("/vectors/3").json() == {"id": 3, "vector": [0, 0, 1, 0], "metadata": {"k": "v"}}
    assert b.health()["wal"]["last_lsn"] >= lsn


@pytest.mark.slow
def test_checkpoint_then_sigkill_then_more_writes(start_server):
    a = start_server()
    a.upsert([{"id": i, "vector": v} for i, v in POINTS.items()])
    a.post("/checkpoint")
    a.delete("/vectors/1?durable=true")
    a.upsert({"id": 100, "vector": [9, 9, 9, 9]}, durable=True)
    a.kill()
    b = start_server(data_dir=a.data_dir)
    assert b.stats()["count"] == len(POINTS)
    assert b.get("/vectors/1").status_code == 404
    assert b.get("/vectors/100").json()["vector"] == [9, 9, 9, 9]
    res = b.post("/search", json={"vector": QUERY, "k": 3}).json()["results"]
    exp = _expected_order("l2", {**{i: v for i, v in POINTS.items() if i != 1}, 100: [9, 9, 9, 9]}, QUERY, 3)
    assert [x["id"] for x in res] == [i for _, i in exp]


@pytest.mark.slow
def test_sigterm_exits_zero_and_sigint_too(start_server):
    a = start_server()
    a.upsert({"id": 1, "vector": [1, 0, 0, 0]})
    assert a.stop(sig=signal.SIGTERM) == 0
    b = start_server(data_dir=a.data_dir)
    assert b.get("/vectors/1").status_code == 200
    assert b.stop(sig=signal.SIGINT) == 0


def test_null_metadata_is_the_same_as_none(server):
    """The spec allows `"metadata": null` in a record: the record then has no metadata (an old one is removed)."""
    assert server.post("/vectors", json={"id": 7, "vector": [1, 0, 0, 0], "metadata": {"a": 1}}).status_code == 200
    assert server.post("/vectors", json={"id": 7, "vector": [1, 0, 0, 0], "metadata": None}).status_code == 200
    assert server.get("/vectors/7").json() == {"id": 7, "vector": [1.0, 0.0, 0.0, 0.0]}

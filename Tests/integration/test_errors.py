"""Every error row of the contract. Each test checks the status, the problem+json body and that
nothing changed (count, write totals, the log's last lsn, seeded records, the attempted ids)."""
from __future__ import annotations

import json

import pytest

from lynx_helpers import U64_MAX, assert_problem, assert_unchanged, state_snapshot

pytestmark = pytest.mark.live

SEED = [{"id": 1, "vector": [1, 0, 0, 0], "metadata": {"color": "red"}},
        {"id": 2, "vector": [0, 1, 0, 0]}]
# Ids the bad requests try to write; none may exist afterwards.
PROBE_IDS = [1, 2, 100, 101, 102, 103]


@pytest.fixture
def seeded(server):
    server.upsert(SEED)
    return server


def _check_rejected(server, resp, status, slug, before):
    body = assert_problem(resp, status, slug)
    assert_unchanged(server, before)
    return body


# --------------------------------------------------------------------------- 400 invalid-json

DEEP = 100_000
MALFORMED_JSON = {
    "empty": b"",
    "whitespace-only": b"   \n",
    "truncated": b'{"id": 100, "vector": [1, 2, 3',
    "truncated-string": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": "abc',
    "trailing-garbage": b'{"id": 100, "vector": [1, 2, 3, 4]} x',
    "trailing-second-value": b'{"id": 100, "vector": [1, 2, 3, 4]}{}',
    "trailing-comma": b'{"id": 100, "vector": [1, 2, 3, 4,]}',
    "nan": b'{"id": 100, "vector": [NaN, 2, 3, 4]}',
    "infinity": b'{"id": 100, "vector": [Infinity, 2, 3, 4]}',
    "minus-infinity": b'{"id": 100, "vector": [-Infinity, 2, 3, 4]}',
    "duplicate-key": b'{"id": 100, "id": 101, "vector": [1, 2, 3, 4]}',
    "duplicate-key-in-metadata": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": 1, "a": 2}}',
    "too-deep": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
    "single-quotes": b"{'id': 100, 'vector': [1, 2, 3, 4]}",
    "unquoted-key": b'{id: 100, "vector": [1, 2, 3, 4]}',
    "leading-zero": b'{"id": 0100, "vector": [1, 2, 3, 4]}',
    "bare-decimal-point": b'{"id": 100, "vector": [1., 2, 3, 4]}',
    "leading-plus": b'{"id": 100, "vector": [+1, 2, 3, 4]}',
    "hex-number": b'{"id": 0x64, "vector": [1, 2, 3, 4]}',
    "comment": b'{"id": 100, /* c */ "vector": [1, 2, 3, 4]}',
    "invalid-utf8": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": "\xff\xfe"}}',
    "raw-control-char": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": "x\x01y"}}',
    "bad-escape": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": "\\x41"}}',
    "true-typo": b'{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": tru}}',
}


@pytest.mark.parametrize("name", sorted(MALFORMED_JSON))
def test_upsert_invalid_json(seeded, name):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw("/vectors", MALFORMED_JSON[name])
    _check_rejected(seeded, r, 400, "invalid-json", before)


@pytest.mark.parametrize("name", ["truncated", "nan", "duplicate-key", "trailing-garbage", "too-deep", "empty"])
def test_search_invalid_json(seeded, name):
    body = {
        "truncated": b'{"vector": [1, 0, 0, 0], "k": ',
        "nan": b'{"vector": [NaN, 0, 0, 0]}',
        "duplicate-key": b'{"vector": [1, 0, 0, 0], "k": 1, "k": 2}',
        "trailing-garbage": b'{"vector": [1, 0, 0, 0]}]',
        "too-deep": b'{"vector": [1, 0, 0, 0], "filter": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
        "empty": b"",
    }[name]
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw("/search", body)
    _check_rejected(seeded, r, 400, "invalid-json", before)


@pytest.mark.parametrize("path", ["/flush", "/checkpoint"])
def test_flush_checkpoint_invalid_json(seeded, path):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw(path, b"{")
    _check_rejected(seeded, r, 400, "invalid-json", before)


# --------------------------------------------------------------------------- 400 invalid-request

GOOD = {"id": 100, "vector": [1, 2, 3, 4]}
WRONG_SHAPE = {
    "body-array": [GOOD],
    "body-number": 42,
    "body-string": "x",
    "body-null": None,
    "body-empty-object": {},
    "missing-id": {"vector": [1, 2, 3, 4]},
    "missing-vector": {"id": 100},
    "unknown-field": {**GOOD, "vectorz": [1]},
    "record-and-batch-mixed": {**GOOD, "vectors": [{"id": 101, "vector": [1, 2, 3, 4]}]},
    "id-string": {**GOOD, "id": "100"},
    "id-negative": {**GOOD, "id": -1},
    "id-fractional": {**GOOD, "id": 1.5},
    "id-2^64": {**GOOD, "id": U64_MAX + 1},
    "id-huge": {**GOOD, "id": 10**30},
    "id-exponent-huge": {**GOOD, "id": 1e30},
    "id-bool": {**GOOD, "id": True},
    "id-null": {**GOOD, "id": None},
    "vector-string": {**GOOD, "vector": "1,2,3,4"},
    "vector-object": {**GOOD, "vector": {"0": 1}},
    "vector-null": {**GOOD, "vector": None},
    "vector-element-string": {**GOOD, "vector": [1, "2", 3, 4]},
    "vector-element-null": {**GOOD, "vector": [1, None, 3, 4]},
    "vector-element-bool": {**GOOD, "vector": [1, True, 3, 4]},
    "vector-element-array": {**GOOD, "vector": [1, [2], 3, 4]},
    "float32-overflow": {**GOOD, "vector": [1, 1e39, 3, 4]},
    "float32-overflow-negative": {**GOOD, "vector": [1, 2, -1e39, 4]},
    "float32-overflow-just-past": {**GOOD, "vector": [3.5e38, 2, 3, 4]},
    "metadata-array": {**GOOD, "metadata": [1, 2]},
    "metadata-string": {**GOOD, "metadata": "x"},
    "metadata-number": {**GOOD, "metadata": 3},
    "batch-not-array": {"vectors": {"id": 100, "vector": [1, 2, 3, 4]}},
    "batch-element-not-object": {"vectors": [GOOD, 5]},
    "batch-unknown-top-level": {"vectors": [GOOD], "durable": True},
    "batch-bad-id-in-second": {"vectors": [GOOD, {"id": -5, "vector": [1, 2, 3, 4]}]},
    "batch-unknown-field-in-record": {"vectors": [GOOD, {"id": 101, "vector": [1, 2, 3, 4], "x": 1}]},
    "batch-overflow-in-third": {"vectors": [GOOD, {"id": 101, "vector": [1, 2, 3, 4]},
                                            {"id": 102, "vector": [1, 2, 3, 1e39]}]},
}

# Two records of one batch with the same id: the shape is the schema's, so 422 duplicate-id (issue 13, schemathesis).
DUPLICATE_IDS = {
    "batch-duplicate-ids": {"vectors": [GOOD, {"id": 101, "vector": [1, 2, 3, 4]}, {"id": 100, "vector": [4, 3, 2, 1]}]},
    "batch-duplicate-existing-ids": {"vectors": [{"id": 1, "vector": [4, 4, 4, 4]}, {"id": 1, "vector": [5, 5, 5, 5]}]},
    "batch-duplicate-written-two-ways": {"vectors": [{"id": 7, "vector": [4, 4, 4, 4]}, {"id": 7.0, "vector": [5, 5, 5, 5]}]},
}


@pytest.mark.parametrize("name", sorted(WRONG_SHAPE))
def test_upsert_invalid_request(seeded, name):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw("/vectors", json.dumps(WRONG_SHAPE[name]))
    _check_rejected(seeded, r, 400, "invalid-request", before)


@pytest.mark.parametrize("name", sorted(DUPLICATE_IDS))
def test_upsert_duplicate_ids_in_a_batch(seeded, name):
    before = state_snapshot(seeded, PROBE_IDS + [7])
    r = seeded.post_raw("/vectors", json.dumps(DUPLICATE_IDS[name]))
    _check_rejected(seeded, r, 422, "duplicate-id", before)


# Valid JSON, but a number no double holds (issue 19): the request is wrong, not its JSON, and the field is named.
BEYOND_A_DOUBLE = {
    "id-with-100000-digits": ('{"id": 1%s, "vector": [1, 2, 3, 4]}' % ("0" * 100_000), "id"),
    "vector-component": ('{"id": 100, "vector": [1, 1e400, 3, 4]}', "vector[1]"),
    "nested-metadata": ('{"id": 100, "vector": [1, 2, 3, 4], "metadata": {"a": {"b": [0, -1e400]}}}', "metadata.a.b[1]"),
    "batch-id": ('{"vectors": [{"id": 100, "vector": [1, 2, 3, 4]}, {"id": 1e999, "vector": [1, 2, 3, 4]}]}',
                 "vectors[1].id"),
}


@pytest.mark.parametrize("name", sorted(BEYOND_A_DOUBLE))
def test_upsert_number_beyond_a_double_is_invalid_request_naming_the_field(seeded, name):
    body, field = BEYOND_A_DOUBLE[name]
    before = state_snapshot(seeded, PROBE_IDS)
    problem = _check_rejected(seeded, seeded.post_raw("/vectors", body), 400, "invalid-request", before)
    assert problem["field"] == field, problem


def test_search_k_beyond_a_double_is_invalid_request(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw("/search", '{"vector": [1, 0, 0, 0], "k": 1%s}' % ("0" * 400))
    assert _check_rejected(seeded, r, 400, "invalid-request", before)["field"] == "k"


def test_detail_names_the_offending_field(seeded):
    body = {"vectors": [GOOD, {"id": 101, "vector": [1, 2, "x", 4]}]}
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/vectors", json=body)
    problem = _check_rejected(seeded, r, 400, "invalid-request", before)
    assert "vectors[1].vector[2]" in problem["detail"], problem
    if "field" in problem:
        assert problem["field"] == "vectors[1].vector[2]", problem


def test_metadata_nested_deeper_than_32_is_rejected(seeded):
    deep = {}
    cur = deep
    for _ in range(40):
        cur["a"] = {}
        cur = cur["a"]
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/vectors", json={**GOOD, "metadata": deep})
    _check_rejected(seeded, r, 400, ["invalid-json", "invalid-request"], before)


def test_metadata_moderately_nested_is_accepted(seeded):
    deep = {}
    cur = deep
    for _ in range(20):
        cur["a"] = {}
        cur = cur["a"]
    r = seeded.post("/vectors", json={**GOOD, "metadata": deep})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("query", ["durable=maybe", "durable=1x", "durable=TRUE!", "durable=1", "durable=0", "durable=TRUE",
                                   "durable=", "durable"])
def test_bad_query_parameter(seeded, query):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post(f"/vectors?{query}", json=GOOD)
    _check_rejected(seeded, r, 400, "invalid-request", before)
    r = seeded.delete(f"/vectors/1?{query}")
    _check_rejected(seeded, r, 400, "invalid-request", before)


@pytest.mark.parametrize("raw_id", ["abc", "-1", "1.5", "18446744073709551616", "99999999999999999999999", "1e3", "0x10",
                                    "01", "00", "007"])
def test_bad_path_id(seeded, raw_id):
    before = state_snapshot(seeded, PROBE_IDS)
    _check_rejected(seeded, seeded.get(f"/vectors/{raw_id}"), 400, "invalid-request", before)
    _check_rejected(seeded, seeded.delete(f"/vectors/{raw_id}"), 400, "invalid-request", before)


SEARCH_WRONG_SHAPE = {
    "missing-vector": {"k": 3},
    "unknown-field": {"vector": [1, 0, 0, 0], "topk": 3},
    "vector-element-string": {"vector": [1, "0", 0, 0]},
    "vector-overflow": {"vector": [1e39, 0, 0, 0]},
    "k-string": {"vector": [1, 0, 0, 0], "k": "3"},
    "k-fractional": {"vector": [1, 0, 0, 0], "k": 2.5},
    "k-null": {"vector": [1, 0, 0, 0], "k": None},
    "ef-search-string": {"vector": [1, 0, 0, 0], "ef_search": "64"},
    "filter-not-object": {"vector": [1, 0, 0, 0], "filter": ["color", "red"]},
    "filter-value-array": {"vector": [1, 0, 0, 0], "filter": {"color": ["red"]}},
    "filter-value-object": {"vector": [1, 0, 0, 0], "filter": {"color": {"eq": "red"}}},
    "include-not-array": {"vector": [1, 0, 0, 0], "include": "metadata"},
    "include-unknown": {"vector": [1, 0, 0, 0], "include": ["metadata", "distance"]},
    "include-non-string": {"vector": [1, 0, 0, 0], "include": [1]},
    "body-array": [[1, 0, 0, 0]],
}


BATCH_SEARCH_WRONG_SHAPE = {
    "missing-queries": {"k": 3},
    "queries-not-array": {"queries": {"a": [1, 0, 0, 0]}},
    "queries-flat-vector": {"queries": [1, 0, 0, 0]},
    "query-element-string": {"queries": [[1, 0, 0, 0], [1, "0", 0, 0]]},
    "query-overflow": {"queries": [[1e39, 0, 0, 0]]},
    "unknown-field": {"queries": [[1, 0, 0, 0]], "vector": [1, 0, 0, 0]},
    "k-string": {"queries": [[1, 0, 0, 0]], "k": "3"},
    "filter-not-object": {"queries": [[1, 0, 0, 0]], "filter": ["color", "red"]},
    "include-unknown": {"queries": [[1, 0, 0, 0]], "include": ["distance"]},
    "body-array": [[1, 0, 0, 0]],
}


SEARCH_WRONG_SHAPE_CASES = {**{f"search-{n}": ("/search", b) for n, b in SEARCH_WRONG_SHAPE.items()},
                            **{f"batch-{n}": ("/search/batch", b) for n, b in BATCH_SEARCH_WRONG_SHAPE.items()}}


@pytest.mark.parametrize("path,body", list(SEARCH_WRONG_SHAPE_CASES.values()), ids=list(SEARCH_WRONG_SHAPE_CASES))
def test_search_invalid_request(seeded, path, body):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw(path, json.dumps(body))
    _check_rejected(seeded, r, 400, "invalid-request", before)


@pytest.mark.parametrize("path,body", [("/flush", b'{"x": 1}'), ("/checkpoint", b"[]"), ("/flush", b"null")])
def test_flush_checkpoint_invalid_request(seeded, path, body):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw(path, body)
    _check_rejected(seeded, r, 400, "invalid-request", before)


# --------------------------------------------------------------------------- 404 not-found


@pytest.mark.parametrize("method,path", [
    ("GET", "/"), ("GET", "/nope"), ("POST", "/v1/vectors"), ("GET", "/vectors/1/extra"),
    ("DELETE", "/vectors/1/2"), ("POST", "/searches"), ("GET", "/STATS"), ("GET", "/healthz"),
])
def test_unknown_route_404(seeded, method, path):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.request(method, path)
    _check_rejected(seeded, r, 404, "not-found", before)


def test_unknown_id_404(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    _check_rejected(seeded, seeded.get("/vectors/100"), 404, "not-found", before)
    _check_rejected(seeded, seeded.get(f"/vectors/{U64_MAX}"), 404, "not-found", before)
    _check_rejected(seeded, seeded.delete("/vectors/100"), 404, "not-found", before)
    _check_rejected(seeded, seeded.delete("/vectors/0?durable=true"), 404, "not-found", before)


def test_delete_twice_second_is_404(seeded):
    assert seeded.delete("/vectors/2").status_code == 200
    before = state_snapshot(seeded, PROBE_IDS)
    _check_rejected(seeded, seeded.delete("/vectors/2"), 404, "not-found", before)


# --------------------------------------------------------------------------- 405 method-not-allowed

ALLOWED = {
    "/vectors": {"GET", "POST"},
    "/vectors/get": {"POST"},
    "/vectors/delete": {"POST"},
    "/count": {"POST"},
    "/vectors/1": {"GET", "DELETE"},
    "/search": {"POST"},
    "/flush": {"POST"},
    "/checkpoint": {"POST"},
    "/stats": {"GET"},
    "/health": {"GET"},
    "/metrics": {"GET"},
}
WRONG_METHODS = [
    ("PUT", "/vectors"), ("DELETE", "/vectors"), ("PATCH", "/vectors"),
    ("GET", "/vectors/get"), ("PUT", "/vectors/get"), ("DELETE", "/vectors/delete"), ("GET", "/count"),
    ("POST", "/vectors/1"), ("PUT", "/vectors/1"), ("PATCH", "/vectors/1"),
    ("GET", "/search"), ("PUT", "/search"), ("GET", "/flush"), ("DELETE", "/flush"), ("GET", "/checkpoint"),
    ("POST", "/stats"), ("DELETE", "/stats"), ("POST", "/health"), ("PUT", "/health"),
    ("POST", "/metrics"), ("DELETE", "/metrics"),
]


@pytest.mark.parametrize("method,path", WRONG_METHODS)
def test_wrong_method_405_with_allow(seeded, method, path):
    before = state_snapshot(seeded, PROBE_IDS)
    # A body that would be a valid write if the method were accepted.
    r = seeded.request(method, path, json={"id": 100, "vector": [1, 2, 3, 4]})
    _check_rejected(seeded, r, 405, "method-not-allowed", before)
    assert "Allow" in r.headers, dict(r.headers)
    allow = {m.strip().upper() for m in r.headers["Allow"].split(",") if m.strip()}
    assert ALLOWED[path] <= allow, (allow, ALLOWED[path])
    assert allow <= ALLOWED[path] | {"HEAD", "OPTIONS"}, allow
    assert method not in allow


# --------------------------------------------------------------------------- 413 payload-too-large


def _padded_upsert(total_len: int, ident: int = 100) -> bytes:
    """A valid single-record upsert body of exactly total_len bytes (padded inside a metadata string)."""
    head = b'{"id": %d, "vector": [1, 2, 3, 4], "metadata": {"pad": "' % ident
    tail = b'"}}'
    n = total_len - len(head) - len(tail)
    assert n >= 0
    return head + b"x" * n + tail


def test_413_from_content_length(start_server):
    srv = start_server(max_body_bytes=1024)
    srv.upsert(SEED)
    before = state_snapshot(srv, PROBE_IDS)
    r = srv.post_raw("/vectors", _padded_upsert(4096))
    body = _check_rejected(srv, r, 413, "payload-too-large", before)
    if "limit" in body:
        assert body["limit"] == 1024
    r = srv.post_raw("/search", b'{"vector": [1, 0, 0, 0]}' + b" " * 2000)
    _check_rejected(srv, r, 413, "payload-too-large", before)


def test_413_boundary_is_inclusive(start_server):
    srv = start_server(max_body_bytes=1024)
    before = state_snapshot(srv, PROBE_IDS)
    r = srv.post_raw("/vectors", _padded_upsert(1025, ident=101))
    _check_rejected(srv, r, 413, "payload-too-large", before)
    r = srv.post_raw("/vectors", _padded_upsert(1024, ident=100))
    assert r.status_code == 200, r.text
    assert srv.get("/vectors/100").status_code == 200


def test_413_is_decided_before_reading_the_body(start_server):
    """Announce a 1 GB body and send none of it: the answer must come from the headers alone."""
    srv = start_server(max_body_bytes=1024)
    before = state_snapshot(srv, PROBE_IDS)
    req = (b"POST /vectors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: 1000000000\r\n\r\n")
    status, headers, body = srv.raw(req, timeout=10)
    assert status == 413
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    assert json.loads(body)["type"] == "urn:lynx:problem:payload-too-large"
    assert_unchanged(srv, before)


def test_413_chunked_body_over_limit(start_server):
    srv = start_server(max_body_bytes=1024)
    srv.upsert(SEED)
    before = state_snapshot(srv, PROBE_IDS)
    payload = _padded_upsert(3000)

    def gen():  # a generator body makes requests use Transfer-Encoding: chunked
        for i in range(0, len(payload), 256):
            yield payload[i:i + 256]

    r = srv.request("POST", "/vectors", data=gen(), headers={"Content-Type": "application/json"})
    _check_rejected(srv, r, 413, "payload-too-large", before)


def test_chunked_body_under_limit_is_accepted(start_server):
    srv = start_server(max_body_bytes=1024)
    payload = _padded_upsert(600)

    def gen():
        for i in range(0, len(payload), 100):
            yield payload[i:i + 100]

    r = srv.request("POST", "/vectors", data=gen(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert srv.get("/vectors/100").status_code == 200


# --------------------------------------------------------------------------- 415 unsupported-media-type


@pytest.mark.parametrize("path,body", [
    ("/vectors", b'{"id": 100, "vector": [1, 2, 3, 4]}'),
    ("/search", b'{"vector": [1, 0, 0, 0]}'),
    ("/flush", b"{}"),
    ("/checkpoint", b"{}"),
])
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                                   "application/xml", "application/json; charset=latin1",
                                   'application/json; charset="utf-16"'])
def test_415_wrong_content_type(seeded, path, body, ctype):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw(path, body, content_type=ctype)
    _check_rejected(seeded, r, 415, "unsupported-media-type", before)


# --------------------------------------------------------------------------- 422


@pytest.mark.parametrize("vec", [[1, 2, 3], [1, 2, 3, 4, 5], [], [0.5] * 384])
def test_422_dimension_mismatch_upsert(seeded, vec):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/vectors", json={"id": 100, "vector": vec})
    body = _check_rejected(seeded, r, 422, "dimension-mismatch", before)
    assert body.get("expected") == 4 and body.get("actual") == len(vec), body


def test_422_dimension_mismatch_in_batch_applies_nothing(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/vectors", json={"vectors": [GOOD, {"id": 101, "vector": [1, 2, 3, 4]},
                                                  {"id": 102, "vector": [1, 2, 3]}]})
    body = _check_rejected(seeded, r, 422, "dimension-mismatch", before)
    assert (body.get("expected"), body.get("actual")) == (4, 3), body
    assert "vectors[2]" in body["detail"], body


def test_422_a_one_record_batch_names_its_vector_by_index(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/vectors", json={"vectors": [{"id": 102, "vector": [1, 2, 3]}]})
    body = _check_rejected(seeded, r, 422, "dimension-mismatch", before)
    assert body.get("field") == "vectors[0].vector", body
    r = seeded.post("/vectors", json={"id": 102, "vector": [1, 2, 3]})
    assert _check_rejected(seeded, r, 422, "dimension-mismatch", before).get("field") == "vector"
    r = seeded.post("/search/batch", json={"queries": [[1, 0, 0]]})
    assert _check_rejected(seeded, r, 422, "dimension-mismatch", before).get("field") == "queries[0]"


def test_422_dimension_mismatch_search(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/search", json={"vector": [1, 0, 0, 0, 0, 0]})
    body = _check_rejected(seeded, r, 422, "dimension-mismatch", before)
    assert (body.get("expected"), body.get("actual")) == (4, 6), body


@pytest.mark.parametrize("extra", [
    {"k": 0}, {"k": 1001}, {"k": 10**9}, {"ef_search": 0}, {"ef_search": 10001},
    {"n_probe": 0}, {"n_probe": 65537},
])
def test_422_search_out_of_range(seeded, extra):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/search", json={"vector": [1, 0, 0, 0], **extra})
    _check_rejected(seeded, r, 422, "out-of-range", before)


def test_422_empty_batch(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/vectors", json={"vectors": []})
    _check_rejected(seeded, r, 422, "out-of-range", before)


def test_422_batch_over_max_batch(start_server):
    srv = start_server(max_batch=3)
    srv.upsert(SEED)
    before = state_snapshot(srv, PROBE_IDS)
    four = [{"id": 100 + i, "vector": [i, 1, 2, 3]} for i in range(4)]
    r = srv.post("/vectors", json={"vectors": four})
    body = _check_rejected(srv, r, 422, "out-of-range", before)
    if "limit" in body:
        assert body["limit"] == 3
    # Exactly max_batch is fine.
    assert srv.post("/vectors", json={"vectors": four[:3]}).status_code == 200
    assert srv.stats()["count"] == 5


def test_422_zero_vector_under_cosine(start_server):
    srv = start_server(metric="cosine")
    srv.upsert(SEED)
    before = state_snapshot(srv, PROBE_IDS)
    r = srv.post("/vectors", json={"id": 100, "vector": [0, 0, 0, 0]})
    _check_rejected(srv, r, 422, "out-of-range", before)
    r = srv.post("/vectors", json={"id": 100, "vector": [0.0, -0.0, 0, 0]})
    _check_rejected(srv, r, 422, "out-of-range", before)
    r = srv.post("/vectors", json={"vectors": [{"id": 101, "vector": [1, 1, 1, 1]}, {"id": 102, "vector": [0, 0, 0, 0]}]})
    _check_rejected(srv, r, 422, "out-of-range", before)
    r = srv.post("/search", json={"vector": [0, 0, 0, 0]})
    _check_rejected(srv, r, 422, "out-of-range", before)


def test_422_vector_too_small_for_a_float32_direction_under_cosine(start_server):
    # The indexes keep 1/|v| and dot products in float32: a vector this small (|v| < 2^-51) used to be accepted
    # with an inverse norm of 0, so every distance to it read 1.0 and a query this small returned nothing.
    srv = start_server(metric="cosine")
    srv.upsert(SEED)
    before = state_snapshot(srv, PROBE_IDS)
    tiny = [1e-30, 1e-30, 1e-30, 1e-30]
    r = srv.post("/vectors", json={"id": 100, "vector": tiny})
    body = _check_rejected(srv, r, 422, "out-of-range", before)
    assert "scale it up" in body["detail"], body
    r = srv.post("/vectors", json={"vectors": [{"id": 101, "vector": [1, 1, 1, 1]}, {"id": 102, "vector": tiny}]})
    _check_rejected(srv, r, 422, "out-of-range", before)
    r = srv.post("/search", json={"vector": tiny})
    _check_rejected(srv, r, 422, "out-of-range", before)
    r = srv.post("/search/batch", json={"queries": [[1, 0, 0, 0], tiny]})
    _check_rejected(srv, r, 422, "out-of-range", before)
    # Just above the bound (|v| = 2^-50): accepted, and its direction is found exactly.
    small = [2.0 ** -51, 2.0 ** -51, 2.0 ** -51, 2.0 ** -51]
    assert srv.post("/vectors", json={"id": 103, "vector": small}).status_code == 200
    res = srv.post("/search", json={"vector": [1, 1, 1, 1], "k": 1}).json()["results"]
    assert res[0]["id"] == 103 and abs(res[0]["distance"]) < 1e-6, res
    res = srv.post("/search", json={"vector": small, "k": 1}).json()["results"]
    assert res[0]["id"] == 103 and abs(res[0]["distance"]) < 1e-6, res


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_zero_vector_is_fine_under_l2_and_dot(start_server, metric):
    srv = start_server(metric=metric)
    r = srv.post("/vectors", json={"id": 5, "vector": [0, 0, 0, 0]})
    assert r.status_code == 200, (metric, r.text)
    assert srv.post("/search", json={"vector": [0, 0, 0, 0]}).status_code == 200


# --------------------------------------------------------------------------- POST /search/batch

@pytest.mark.parametrize("body", [b'{"queries": [[1, 0, 0, 0]', b"", b'{"queries": [[NaN, 0, 0, 0]]}'])
def test_batch_invalid_json(seeded, body):
    before = state_snapshot(seeded, PROBE_IDS)
    _check_rejected(seeded, seeded.post_raw("/search/batch", body), 400, "invalid-json", before)


def test_batch_wrong_dimension_names_the_query(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/search/batch", json={"queries": [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0]]})
    body = _check_rejected(seeded, r, 422, "dimension-mismatch", before)
    assert (body.get("expected"), body.get("actual")) == (4, 3), body
    assert "queries[2]" in body["detail"], body


@pytest.mark.parametrize("extra", [{"k": 0}, {"k": 1001}, {"ef_search": 0}, {"n_probe": 65537}])
def test_batch_out_of_range(seeded, extra):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post("/search/batch", json={"queries": [[1, 0, 0, 0]], **extra})
    _check_rejected(seeded, r, 422, "out-of-range", before)


def test_batch_empty_is_422_like_an_empty_upsert_batch(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    _check_rejected(seeded, seeded.post("/search/batch", json={"queries": []}), 422, "out-of-range", before)


def test_batch_over_max_batch(start_server):
    srv = start_server(max_batch=3)
    srv.upsert(SEED)
    before = state_snapshot(srv, PROBE_IDS)
    body = _check_rejected(srv, srv.post("/search/batch", json={"queries": [[1, 0, 0, 0]] * 4}), 422, "out-of-range", before)
    assert body.get("limit") == 3, body
    r = srv.post("/search/batch", json={"queries": [[1, 0, 0, 0]] * 3, "k": 1})
    assert r.status_code == 200 and len(r.json()["results"]) == 3, r.text


def test_batch_wrong_media_type_and_method(seeded):
    before = state_snapshot(seeded, PROBE_IDS)
    r = seeded.post_raw("/search/batch", b'{"queries": [[1, 0, 0, 0]]}', content_type="text/plain")
    _check_rejected(seeded, r, 415, "unsupported-media-type", before)
    r = seeded.request("GET", "/search/batch")
    assert r.status_code == 405 and "POST" in r.headers.get("Allow", ""), r.text


def test_metadata_over_the_per_record_limit_is_422_and_changes_nothing(start_server):
    """--max-metadata-bytes bounds one record's metadata (compact JSON): over it, 422 naming the record's metadata."""
    srv = start_server(max_metadata_bytes=100)
    srv.post("/vectors", json={"id": 1, "vector": [1, 2, 3, 4]})
    before = state_snapshot(srv, PROBE_IDS)

    def meta(n: int) -> dict:
        m = {"p": "x" * (n - len('{"p":""}'))}
        assert len(json.dumps(m, separators=(",", ":"))) == n
        return m

    body = _check_rejected(srv, srv.post("/vectors", json={"id": 2, "vector": [1, 2, 3, 4], "metadata": meta(101)}),
                           422, "out-of-range", before)
    assert body["field"] == "metadata" and body["limit"] == 100, body
    batch = {"vectors": [{"id": 2, "vector": [1, 2, 3, 4], "metadata": meta(100)},
                         {"id": 3, "vector": [1, 2, 3, 4], "metadata": meta(101)}]}
    body = _check_rejected(srv, srv.post("/vectors", json=batch), 422, "out-of-range", before)
    assert body["field"] == "vectors[1].metadata", body
    # Compact size counts, not the request's spacing: 100 bytes written with spaces still fit.
    r = srv.post_raw("/vectors", json.dumps({"id": 2, "vector": [1, 2, 3, 4], "metadata": meta(100)}, indent=4).encode())
    assert r.status_code == 200, r.text
    assert srv.get("/vectors/2").json()["metadata"] == meta(100)

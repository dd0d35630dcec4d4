"""The spec is valid and self-consistent, and the live server's responses conform to it."""
from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from lynx_helpers import U64_MAX
from openapi_check import METHODS, SpecChecker, load_spec

SPEC = load_spec()
# The routes of one store: served on the default collection at the root and on every collection under
# /collections/{collection}.
STORE_ROUTES = {
    ("/vectors", "post"), ("/vectors", "get"), ("/vectors/get", "post"), ("/vectors/delete", "post"), ("/count", "post"),
    ("/vectors/{id}", "get"), ("/vectors/{id}", "delete"), ("/search", "post"),
    ("/search/batch", "post"),
    ("/flush", "post"), ("/checkpoint", "post"), ("/index/rebuild", "post"), ("/stats", "get"),
    ("/indexes", "get"), ("/indexes/{field}", "get"), ("/indexes/{field}", "put"), ("/indexes/{field}", "delete"),
    ("/snapshots", "post"), ("/snapshots", "get"), ("/snapshots/{name}", "get"), ("/snapshots/{name}", "delete"),
    ("/replication/log", "get"),
}
CONTRACT_ROUTES = STORE_ROUTES | {("/collections/{collection}" + p, m) for p, m in STORE_ROUTES} | {
    ("/health", "get"), ("/metrics", "get"), ("/health/live", "get"), ("/health/ready", "get"),
    ("/collections", "get"), ("/collections/{collection}", "put"), ("/collections/{collection}", "get"),
    ("/collections/{collection}", "delete"), ("/replication", "get"), ("/replication/catalog", "get"),
}
# Served by a cluster's leader only: a single node answers them 421 (test_replication*.py runs them on a cluster).
LEADER_ONLY = {("/replication/log", "get"), ("/collections/{collection}/replication/log", "get"),
               ("/replication/catalog", "get")}


# --------------------------------------------------------------------------- static (no server needed)


def test_spec_is_valid_openapi_3_1():
    assert SPEC["openapi"] == "3.1.0"
    validate(SPEC)


def test_spec_has_exactly_the_contract_routes():
    assert set(SpecChecker(SPEC).operations) == CONTRACT_ROUTES


def test_every_operation_documents_its_errors():
    ck = SpecChecker(SPEC)
    for path, method in ck.operations:
        responses = SPEC["paths"][path][method]["responses"]
        success = "201" if (path.endswith("/snapshots") and method == "post") else "200"  # a backup is created
        assert success in responses and "405" in responses and "500" in responses, (path, method)
        for status, resp in responses.items():
            resp, _ = ck.resolve(resp, "")
            if int(status) >= 400 and (path, status) != ("/health", "503"):
                assert list(resp["content"]) == ["application/problem+json"], (path, method, status)
        if method in ("post", "put"):
            assert {"400", "413", "415"} <= set(responses), (path, responses.keys())
    assert "404" in SPEC["paths"]["/vectors/{id}"]["get"]["responses"]
    assert "404" in SPEC["paths"]["/vectors/{id}"]["delete"]["responses"]
    assert "422" in SPEC["paths"]["/vectors"]["post"]["responses"]
    assert "422" in SPEC["paths"]["/search"]["post"]["responses"]
    assert "422" in SPEC["paths"]["/search/batch"]["post"]["responses"]
    allow = ck.resolve(SPEC["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"], "")[0]
    assert allow["required"] is True


def _examples():
    """(pointer-of-schema, example value, label) for every media-type example in the spec."""
    ck = SpecChecker(SPEC)
    out = []

    def media(node, ptr):
        for mt, obj in (node.get("content") or {}).items():
            sptr = f"{ptr}/content/{mt.replace('/', '~1')}/schema"
            if "example" in obj:
                out.append((sptr, obj["example"], f"{ptr} {mt}"))
            for name, ex in (obj.get("examples") or {}).items():
                out.append((sptr, ex["value"], f"{ptr} {mt} {name}"))

    for p, item in SPEC["paths"].items():
        for m in METHODS:
            if m not in item:
                continue
            base = f"/paths/{p.replace('/', '~1')}/{m}"
            if "requestBody" in item[m]:
                media(item[m]["requestBody"], base + "/requestBody")
            for st, r in item[m]["responses"].items():
                if "$ref" not in r:
                    media(r, f"{base}/responses/{st}")
    for name, r in SPEC["components"]["responses"].items():
        media(r, f"/components/responses/{name}")
    for name, s in SPEC["components"]["schemas"].items():
        for i, ex in enumerate(s.get("examples") or []):
            out.append((f"/components/schemas/{name}", ex, f"schema {name} example {i}"))
    return ck, out


def test_every_example_matches_its_schema():
    ck, examples = _examples()
    assert len(examples) >= 25
    errors = []
    for ptr, value, label in examples:
        errors += [f"{label}: {e}" for e in ck.validate_at(value, ptr)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("value,ok", [
    ({"id": 0, "vector": [1.0]}, True),
    ({"id": U64_MAX, "vector": [1.0], "metadata": {}}, True),
    ({"id": U64_MAX + 1, "vector": [1.0]}, False),
    ({"id": -1, "vector": [1.0]}, False),
    ({"id": 1.5, "vector": [1.0]}, False),
    ({"id": "1", "vector": [1.0]}, False),
    ({"id": 1, "vector": [1e39]}, False),
    ({"id": 1, "vector": [1.0], "extra": 1}, False),
    ({"id": 1}, False),
    ({"vectors": [{"id": 1, "vector": [1.0]}]}, True),
    ({"vectors": []}, False),
    ({"vectors": [{"id": 1, "vector": [1.0]}], "id": 1}, False),
])
def test_request_schema_is_tight(value, ok):
    ck = SpecChecker(SPEC)
    errs = ck.validate_at(value, "/components/schemas/UpsertRequest")
    assert (not errs) == ok, errs


@pytest.mark.parametrize("value,ok", [
    ({"queries": [[1.0, 2.0]]}, True),
    ({"queries": [[1.0], [2.0]], "k": 3, "filter": {"a": 1}, "include": ["metadata"], "ef_search": 9}, True),
    ({"queries": []}, False),
    ({"queries": [1.0, 2.0]}, False),
    ({"queries": [[1.0]], "k": 0}, False),
    ({"queries": [[1.0]], "vector": [1.0]}, False),
    ({"vector": [1.0]}, False),
])
def test_batch_search_request_schema_is_tight(value, ok):
    ck = SpecChecker(SPEC)
    errs = ck.validate_at(value, "/components/schemas/BatchSearchRequest")
    assert (not errs) == ok, errs


@pytest.mark.parametrize("value,ok", [
    ({"type": "urn:lynx:problem:invalid-json", "title": "t", "status": 400, "detail": "d"}, True),
    ({"type": "urn:lynx:problem:not-found", "title": "t", "status": 400, "detail": "d"}, False),
    ({"type": "urn:lynx:problem:invalid-json", "title": "t", "status": 400}, False),
    ({"type": "urn:lynx:problem:invalid-json", "title": "t", "status": 404, "detail": "d"}, False),
])
def test_problem_schema_is_tight(value, ok):
    ck = SpecChecker(SPEC)
    errs = ck.validate_at(value, "/components/schemas/BadRequestProblem")
    assert (not errs) == ok, errs


# --------------------------------------------------------------------------- live


def _sweep(srv):
    """A broad set of requests over every route, success and error cases."""
    s = srv
    out = []
    out.append(s.post("/vectors", json={"id": 1, "vector": [1, 2, 3, 4], "metadata": {"a": 1}}))
    out.append(s.post("/vectors?durable=true", json={"vectors": [{"id": 0, "vector": [0, 1, 0, 0]},
                                                                {"id": U64_MAX, "vector": [0, 0, 1, 0]}]}))
    out.append(s.post("/vectors", json={"vectors": [{"id": 5, "vector": [1, 1, 1, 1]}] * 2}))
    out.append(s.post_raw("/vectors", b'{"id": 1, "vector": [NaN, 1, 1, 1]}'))
    out.append(s.post("/vectors", json={"id": 7, "vector": [1, 2, 3]}))
    out.append(s.post("/vectors", json={"vectors": []}))
    out.append(s.post_raw("/vectors", b'{"id": 7, "vector": [1, 2, 3, 4]}', content_type="text/plain"))
    out.append(s.post_raw("/vectors", b'{"id": 7, "vector": [1, 2, 3, 4], "metadata": {"p": "' + b"x" * 5000 + b'"}}'))
    out.append(s.get("/vectors/1"))
    out.append(s.get("/vectors/0"))
    out.append(s.get(f"/vectors/{U64_MAX}"))
    out.append(s.get("/vectors/999"))
    out.append(s.get("/vectors/abc"))
    out.append(s.post("/search", json={"vector": [1, 2, 3, 4], "k": 2}))
    out.append(s.post("/search", json={"vector": [1, 2, 3, 4], "include": ["metadata", "vector"], "filter": {"a": 1}}))
    out.append(s.post("/search", json={"vector": [1, 2, 3, 4], "k": 0}))
    out.append(s.post("/search", json={"vector": [1, 2]}))
    out.append(s.post("/search", json={"vector": [1, 2, 3, 4], "bogus": 1}))
    out.append(s.post("/search/batch", json={"queries": [[1, 2, 3, 4], [0, 1, 0, 0]], "k": 2}))
    out.append(s.post("/search/batch", json={"queries": [[1, 2, 3, 4]], "include": ["metadata", "vector"]}))
    out.append(s.post("/search/batch", json={"queries": []}))
    out.append(s.post("/search/batch", json={"queries": [[1, 2, 3, 4], [1, 2]]}))
    out.append(s.post("/search/batch", json={"queries": [1, 2, 3, 4]}))
    out.append(s.post("/flush"))
    out.append(s.post("/flush", json={}))
    out.append(s.post("/checkpoint"))
    out.append(s.post_raw("/checkpoint", b"{}", content_type="text/plain"))
    out.append(s.post("/snapshots"))
    out.append(s.post("/snapshots", json={"name": "sweep"}))
    out.append(s.post("/snapshots", json={"name": "sweep"}))
    out.append(s.post("/snapshots", json={"name": "../x"}))
    out.append(s.get("/snapshots"))
    out.append(s.get("/snapshots/sweep"))
    out.append(s.get("/snapshots/no-such"))
    out.append(s.get("/snapshots/.."))
    out.append(s.delete("/snapshots/sweep"))
    out.append(s.get("/stats"))
    out.append(s.get("/health"))
    out.append(s.get("/health/live"))
    out.append(s.get("/health/ready"))
    out.append(s.get("/health/ready?verbose=1"))
    out.append(s.get("/metrics"))
    out.append(s.get("/vectors?limit=2"))
    out.append(s.get(f"/vectors?after={U64_MAX}&include=metadata"))
    out.append(s.get("/vectors?limit=0"))
    out.append(s.get("/vectors?after=x"))
    out.append(s.post("/vectors/get", json={"ids": [1, 999]}))
    out.append(s.post("/vectors/get", json={"ids": []}))
    out.append(s.post("/vectors/get", json={"ids": [1, 1]}))
    out.append(s.post("/count"))
    out.append(s.post("/count", json={"filter": {"a": {"$gte": 1}}}))
    out.append(s.post("/count", json={"filter": {"a": {"$gte": []}}}))
    out.append(s.post("/vectors/delete", json={"ids": [0, 999]}))
    out.append(s.post("/vectors/delete?durable=true", json={"filter": {"a": 5}}))
    out.append(s.post("/vectors/delete", json={"ids": [0], "filter": {}}))
    out.append(s.post_raw("/vectors/delete", b'{"ids": [0]}', content_type="text/plain"))
    out.append(s.delete("/vectors/1?durable=true"))
    out.append(s.delete("/vectors/1"))
    out.append(s.delete("/vectors/-3"))
    out.append(s.request("PUT", "/collections/c1", json={"dimension": 4, "index": "flat"}))
    out.append(s.request("PUT", "/collections/c1", json={"dimension": 4, "index": "flat"}))
    out.append(s.request("PUT", "/collections/c1", json={"dimension": 5}))
    out.append(s.request("PUT", "/collections/bad.name", json={"dimension": 4}))
    out.append(s.request("PUT", "/collections/c2", json={"dimension": 0}))
    out.append(s.request("PUT", "/collections/c2", json={"dimension": 4, "index": "flat", "m": 8}))
    out.append(s.request("PUT", "/collections/c2", json={"metric": "l2"}))
    out.append(s.post("/collections/c1/vectors", json={"id": 3, "vector": [1, 2, 3, 4]}))
    out.append(s.post("/collections/c1/search", json={"vector": [1, 2, 3, 4]}))
    out.append(s.get("/collections/c1/vectors/3"))
    out.append(s.get("/collections/c1/vectors/4"))
    out.append(s.post("/collections/none/search", json={"vector": [1, 2, 3, 4]}))
    out.append(s.get("/collections/c1"))
    out.append(s.get("/collections/none"))
    out.append(s.get("/collections"))
    out.append(s.delete("/collections/default"))
    out.append(s.delete("/collections/c1"))
    out.append(s.delete("/collections/c1"))
    out.append(s.get("/replication"))
    out.append(s.get("/replication/catalog"))
    out.append(s.get("/replication/log?after=0&term=0&wait_ms=0"))
    out.append(s.get("/replication/log?after=x"))
    out.append(s.get("/collections/none/replication/log?after=0"))
    out.append(s.get("/nope"))
    out.append(s.request("GET", "/"))
    for method, path in [("PUT", "/vectors"), ("GET", "/vectors/get"), ("GET", "/count"), ("PUT", "/vectors/0"), ("GET", "/search"), ("GET", "/search/batch"), ("GET", "/flush"),
                         ("GET", "/checkpoint"), ("POST", "/stats"), ("POST", "/health"), ("DELETE", "/metrics")]:
        out.append(s.request(method, path))
    return out


@pytest.mark.live
def test_live_responses_match_spec(start_server):
    srv = start_server(max_body_bytes=4096)
    ck = SpecChecker(SPEC)
    responses = _sweep(srv)
    statuses = {r.status_code for r in responses}
    # The sweep must really cover successes and every client-error class it aims at.
    assert {200, 201, 400, 404, 405, 409, 413, 415, 422} <= statuses, statuses
    errors = [e for r in responses for e in ck.check(r)]
    assert not errors, "\n".join(errors)


def _request_examples(path: str) -> dict:
    return SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]


def _request_example(path: str):
    return SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]


@pytest.mark.live
def test_every_spec_route_answers(server):
    """Each operation of the spec, called with the spec's own request examples, answers 200."""
    ck = SpecChecker(SPEC)
    errors = []
    rb = SPEC["paths"]["/vectors"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    for name in ("single", "batch"):
        r = server.post("/vectors", json=rb[name]["value"])
        assert r.status_code == 200, (name, r.text)
        errors += ck.check(r)
    sb = SPEC["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    bb = SPEC["paths"]["/search/batch"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    # (template, method, path, body): the path is relative to the collection for the store routes.
    calls = [
        ("/vectors/{id}", "GET", "/vectors/42", None),
        ("/search", "POST", "/search", sb["plain"]["value"]),
        ("/search", "POST", "/search", sb["filtered"]["value"]),
        ("/search/batch", "POST", "/search/batch", bb["plain"]["value"]),
        ("/search/batch", "POST", "/search/batch", bb["filtered"]["value"]),
        ("/flush", "POST", "/flush", {}),
        ("/checkpoint", "POST", "/checkpoint", {}),
        ("/index/rebuild", "POST", "/index/rebuild", {}),
        ("/stats", "GET", "/stats", None),
        ("/vectors", "GET", "/vectors?limit=1000", None),
        ("/vectors/get", "POST", "/vectors/get", _request_example("/vectors/get")),
        ("/count", "POST", "/count", _request_examples("/count")["all"]["value"]),
        ("/count", "POST", "/count", _request_examples("/count")["filtered"]["value"]),
        ("/indexes/{field}", "PUT", "/indexes/lang", {"type": "keyword"}),
        ("/indexes", "GET", "/indexes", None),
        ("/indexes/{field}", "GET", "/indexes/lang", None),
        ("/indexes/{field}", "DELETE", "/indexes/lang", None),
        ("/vectors/{id}", "DELETE", "/vectors/42", None),
        ("/vectors/delete", "POST", "/vectors/delete", _request_examples("/vectors/delete")["byFilter"]["value"]),
        ("/vectors/delete", "POST", "/vectors/delete", _request_examples("/vectors/delete")["byIds"]["value"]),
        ("/snapshots", "GET", "/snapshots", None),
        ("/snapshots/{name}", "GET", "/snapshots/nightly", None),
        ("/snapshots/{name}", "DELETE", "/snapshots/nightly", None),
    ]
    backup = _request_example("/snapshots")
    made = server.post("/snapshots", json={**backup, "name": "nightly"})  # 201; listed, downloaded, deleted below
    assert made.status_code == 201, made.text
    errors += ck.check(made)
    created = server.request("PUT", "/indexes/lang", json={"type": "keyword"})  # 201 here, 200 in the list above
    assert created.status_code == 201, created.text
    errors += ck.check(created)
    seen = {("/vectors", "post")}
    # The same operations on a collection created for it, then the collection routes themselves.
    books = "/collections/books"
    cb = SPEC["paths"]["/collections/{collection}"]["put"]["requestBody"]["content"]["application/json"]["example"]
    r = server.request("PUT", books, json={**cb, "dimension": 4})
    assert r.status_code == 201, r.text
    errors += ck.check(r)
    created = server.request("PUT", books + "/indexes/lang", json={"type": "keyword"})
    assert created.status_code == 201, created.text
    errors += ck.check(created)
    for name in ("single", "batch"):
        r = server.post(books + "/vectors", json=rb[name]["value"])
        assert r.status_code == 200, (name, r.text)
        errors += ck.check(r)
    seen.add(("/collections/{collection}/vectors", "post"))
    made = server.post(books + "/snapshots", json={"name": "nightly"})
    assert made.status_code == 201, made.text
    errors += ck.check(made)
    seen |= {("/snapshots", "post"), ("/collections/{collection}/snapshots", "post")}
    # The leader-only routes answer a single node 421; their answer must still be the spec's.
    for path in ("/replication/catalog",
                 "/replication/log?after=0&wait_ms=0", "/collections/books/replication/log?after=0&wait_ms=0"):
        errors += ck.check(server.get(path))
    calls += [("/collections/{collection}" + t, m, books + p, b) for t, m, p, b in calls] + [
        ("/health", "GET", "/health", None),
        ("/health/live", "GET", "/health/live", None),
        ("/health/ready", "GET", "/health/ready", None),
        ("/metrics", "GET", "/metrics", None),
        ("/collections/{collection}", "PUT", books, {**cb, "dimension": 4}),
        ("/collections/{collection}", "GET", books, None),
        ("/collections", "GET", "/collections", None),
        ("/replication", "GET", "/replication", None),
        ("/collections/{collection}", "DELETE", books, None),
    ]
    for template, method, path, body in calls:
        r = server.request(method, path, json=body) if body is not None else server.request(method, path)
        assert r.status_code == 200, (method, template, r.status_code, r.text[:300])
        errors += ck.check(r)
        seen.add((template, method.lower()))
    assert seen == set(ck.operations) - LEADER_ONLY, "an operation of the spec was not exercised"
    assert not errors, "\n".join(errors)



PROBE_PATHS = ["/", "/vector", "/v1/vectors", "/vectors/1/metadata", "/search/1", "/stats/x", "/healthz",
               "/metrics/x", "/admin", "/debug/pprof", "/flush/now", "/checkpoints", "/VECTORS", "/Search",
               "/openapi.yaml", "/index.html"]


@pytest.mark.live
def test_server_routes_are_all_in_spec(server):
    """Unlisted methods on spec paths answer 405 (never 2xx), paths outside the spec answer 404."""
    ck = SpecChecker(SPEC)
    errors = []
    concrete = {"/vectors/{id}": "/vectors/1", "/collections/{collection}/vectors/{id}": "/collections/default/vectors/1",
                "/indexes/{field}": "/indexes/lang", "/collections/{collection}/indexes/{field}": "/collections/default/indexes/lang"}
    server.post("/vectors", json={"id": 1, "vector": [1, 0, 0, 0]})
    for template, item in SPEC["paths"].items():
        path = concrete.get(template, template).replace("{collection}", "default")
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if method.lower() in item:
                continue
            r = server.request(method, path)
            if r.status_code != 405:
                errors.append(f"{method} {path}: {r.status_code} (expected 405: not in the spec)")
            errors += ck.check(r)
    for path in PROBE_PATHS:
        for method in ("GET", "POST"):
            r = server.request(method, path, json={})
            if r.status_code != 404:
                errors.append(f"{method} {path}: {r.status_code} (expected 404: not in the spec)")
            errors += ck.check(r)
    assert not errors, "\n".join(errors)


def test_numeric_keywords_are_numbers():
    """YAML 1.1 reads `3.4e38` as a string; every numeric schema keyword must load as a number."""
    bad = []

    def walk(node, ptr):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
                         "minLength", "maxLength", "minProperties", "maxProperties", "multipleOf"):
                    if not isinstance(v, (int, float)) or isinstance(v, bool):
                        bad.append(f"{ptr}/{k} = {v!r}")
                walk(v, f"{ptr}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{ptr}/{i}")

    walk(SPEC, "")
    assert not bad, bad

"""A JSON number with a zero fraction (1.0, 1e3) is an integer, as JSON Schema (and so the spec) says: every
integer the API reads (record ids, k, limits, collection parameters) takes it with its exact value, read from the
digits and never through a double (2^53 + 1 written 9007199254740993.0 stays 2^53 + 1). A fraction that is not
zero is still a 400."""
from __future__ import annotations

import json

import pytest

from lynx_helpers import assert_problem

P53 = 2**53 + 1


def post(server, path, raw: str):
    return server.post_raw(path, raw)


@pytest.mark.parametrize("literal,value", [("1.0", 1), ("1e3", 1000), ("2.50e1", 25), ("100e-2", 1),
                                           ("9007199254740993.0", P53), ("9.007199254740993e15", P53),
                                           ("18446744073709551615.0", 2**64 - 1)])
def test_whole_number_ids_are_exact(server, literal, value):
    r = post(server, "/vectors", '{"id": %s, "vector": [1, 2, 3, 4]}' % literal)
    assert r.status_code == 200, r.text
    got = server.get(f"/vectors/{value}")
    assert got.status_code == 200, got.text
    assert got.json()["id"] == value
    # The neighbour of 2^53 + 1 that a double would have produced was not written.
    assert server.get(f"/vectors/{value - 1}").status_code == 404
    # Batches, lookups by id and bulk deletes read ids the same way.
    r = post(server, "/vectors/get", '{"ids": [%s]}' % literal)
    assert r.status_code == 200 and [v["id"] for v in r.json()["vectors"]] == [value], r.text
    r = post(server, "/vectors/delete", '{"ids": [%s]}' % literal)
    assert r.status_code == 200, r.text
    assert server.get(f"/vectors/{value}").status_code == 404


def test_whole_number_ids_in_a_batch(server):
    r = post(server, "/vectors", '{"vectors": [{"id": 5.0, "vector": [1, 0, 0, 0]}, {"id": 6e0, "vector": [0, 1, 0, 0]}]}')
    assert r.status_code == 200, r.text
    assert server.stats()["count"] == 2
    assert server.get("/vectors/5").status_code == 200 and server.get("/vectors/6").status_code == 200


def test_whole_number_k_and_limits(server):
    server.upsert([{"id": i, "vector": [i, 0, 0, 0]} for i in range(1, 6)])
    r = post(server, "/search", '{"vector": [0, 0, 0, 0], "k": 3.0}')
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["results"]] == [1, 2, 3]
    r = post(server, "/search/batch", '{"queries": [[0, 0, 0, 0]], "k": 2e0}')
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["results"][0]] == [1, 2]
    # Out of range however it is written: 422 as for the integer literal.
    assert_problem(post(server, "/search", '{"vector": [0, 0, 0, 0], "k": 1e30}'), 422)


def test_whole_number_collection_parameters(server):
    r = server.request("PUT", "/collections/wholes", data='{"dimension": 3.0, "index": "hnsw", "m": 8e0}',
                       headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 201), r.text
    assert server.post("/collections/wholes/vectors", json={"id": 1, "vector": [1, 2, 3]}).status_code == 200


@pytest.mark.parametrize("body", ['{"id": 1.5, "vector": [1, 2, 3, 4]}', '{"id": 15e-1, "vector": [1, 2, 3, 4]}',
                                  '{"id": 18446744073709551616.0, "vector": [1, 2, 3, 4]}',
                                  '{"id": -1.0, "vector": [1, 2, 3, 4]}',
                                  '{"id": 1.0000000000000000000001, "vector": [1, 2, 3, 4]}'])
def test_fractions_and_out_of_range_stay_refused(server, body):
    p = assert_problem(post(server, "/vectors", body), 400, "invalid-request")
    assert p["field"] == "id"
    assert server.stats()["count"] == 0


def test_k_with_a_fraction_stays_refused(server):
    assert_problem(post(server, "/search", json.dumps({"vector": [0, 0, 0, 0], "k": 2.5})), 400, "invalid-request")

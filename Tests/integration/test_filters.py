"""The filter language end to end (docs/FILTERS.md): random filters over random metadata on a real lynxd with a Flat
index and k = every record, so the answer is exactly the set of matching records, compared with a reference
evaluator written here; search/batch with filters; every malformed filter is a 400 problem naming its path, changes
nothing, and is rejected by the spec's Filter schema too (which accepts every random filter sent)."""
from __future__ import annotations

import json
import random

import pytest

from lynx_helpers import assert_problem, assert_unchanged, state_snapshot
from openapi_check import SpecChecker

pytestmark = pytest.mark.live

DIM = 4
RECORDS = 300
FILTER_POINTER = "/components/schemas/Filter"
INT64 = range(-2**63, 2**63)

# Values chosen to meet at the edges: integers above 2^53 that differ by one, the ends of Int64, integers beyond it
# (their nearest double is 2^64 for both of the last two), int against double, strings that differ in case or by a
# non-ASCII letter, and the types that never mix with numbers.
NUMBERS = [0, 1, -1, 2, 3, 1.0, 0.5, -2.25, 2.5, 100, 2**53, 2**53 + 1, -(2**53 + 1), float(2**53),
           2**63 - 1, 2**63 - 2, -2**63, float(2**63), 2**64 - 1, 2**64 - 2]
STRINGS = ["", "a", "b", "ab", "B", "é", "z", "1"]
OTHERS = [True, False, None]
KEYS = ["a", "b", "c", "tags", "n"]
PATHS = ["a", "b", "c", "tags", "n", "n.x", "n.y", "missing", "a.x"]
OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]


# --------------------------------------------------------------------------- the reference

def _number(v):
    """The number as the server types it, or None for a non-number (bool is not a number here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, int) and v not in INT64:
        return float(v)  # beyond Int64: the nearest double
    return v  # Python compares int with float exactly


def _same(a, b):
    na, nb = _number(a), _number(b)
    if na is not None or nb is not None:
        return na is not None and nb is not None and na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, str) and isinstance(b, str) and a == b


def _order(a, b):
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)  # code points; every string here is NFC
    return None


MISSING = object()


def _lookup(document, path):
    value = document
    for name in path.split("."):
        if not isinstance(value, dict) or name not in value:
            return MISSING
        value = value[name]
    return value


def _holds(op, operand, value):
    if op == "$exists":
        return (value is not MISSING) == operand
    if op == "$ne":
        return not _holds("$eq", operand, value)
    if op == "$nin":
        return not _holds("$in", operand, value)
    if value is MISSING:
        return False
    for candidate in (value if isinstance(value, list) else [value]):
        if op == "$eq" and _same(candidate, operand):
            return True
        if op == "$in" and any(_same(candidate, o) for o in operand):
            return True
        if op in ("$gt", "$gte", "$lt", "$lte"):
            c = _order(candidate, operand)
            if c is not None and {"$gt": c > 0, "$gte": c >= 0, "$lt": c < 0, "$lte": c <= 0}[op]:
                return True
    return False


def matches(flt, document):
    """document: the record's metadata, or MISSING when it has none."""
    for key, value in flt.items():
        if key == "$and":
            ok = all(matches(f, document) for f in value)
        elif key == "$or":
            ok = any(matches(f, document) for f in value)
        elif key == "$not":
            ok = not matches(value, document)
        else:
            at = _lookup(document, key)
            if isinstance(value, dict):
                ok = all(_holds(op, operand, at) for op, operand in value.items())
            else:
                ok = _holds("$eq", value, at)
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------- the generators

def _scalar(rng):
    r = rng.random()
    return rng.choice(NUMBERS) if r < 0.5 else rng.choice(STRINGS) if r < 0.8 else rng.choice(OTHERS)


def _value(rng, depth):
    r = rng.random()
    if r < 0.6:
        return _scalar(rng)
    if r < 0.8:
        return [(_value(rng, depth - 1) if depth > 0 and rng.random() < 0.15 else _scalar(rng))
                for _ in range(rng.randrange(4))]
    return _object(rng, ["x", "y"], depth - 1) if depth > 0 else _scalar(rng)


def _object(rng, keys, depth):
    return {k: _value(rng, depth) for k in keys if rng.random() < 0.7}


def _operand(rng, op):
    if op == "$exists":
        return rng.random() < 0.5
    if op in ("$in", "$nin"):
        return [_scalar(rng) for _ in range(rng.randrange(4))]
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return rng.choice(NUMBERS) if rng.random() < 0.7 else rng.choice(STRINGS)
    return _scalar(rng)


def _condition(rng):
    if rng.random() < 0.25:
        return _scalar(rng)  # the equality shorthand
    ops = rng.sample(OPERATORS, rng.choice([1, 1, 1, 2, 3]))
    return {op: _operand(rng, op) for op in ops}


def random_filter(rng, depth=3):
    out = {}
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        r = rng.random()
        if depth > 0 and r < 0.15:
            out["$and"] = [random_filter(rng, depth - 1) for _ in range(rng.randrange(1, 4))]
        elif depth > 0 and r < 0.3:
            out["$or"] = [random_filter(rng, depth - 1) for _ in range(rng.randrange(1, 4))]
        elif depth > 0 and r < 0.4:
            out["$not"] = random_filter(rng, depth - 1)
        else:
            out[rng.choice(PATHS)] = _condition(rng)
    return out


def random_records(rng):
    records = []
    for i in range(RECORDS):
        record = {"id": i, "vector": [rng.uniform(-1, 1) for _ in range(DIM)]}
        if rng.random() < 0.95:
            record["metadata"] = _object(rng, KEYS, 2)
        records.append(record)
    return records


@pytest.fixture
def populated(server):
    records = random_records(random.Random(20261202))
    server.upsert({"vectors": records})
    return server, {r["id"]: r.get("metadata", MISSING) for r in records}


def _ids(resp):
    assert resp.status_code == 200, resp.text
    return [hit["id"] for hit in resp.json()["results"]]


# --------------------------------------------------------------------------- random filters, exact answers

def test_random_filters_match_the_reference(populated):
    server, metadata = populated
    checker = SpecChecker()
    rng = random.Random(7)
    matched = []
    for _ in range(600):
        flt = random_filter(rng)
        assert not checker.validate_at(flt, FILTER_POINTER), (flt, checker.validate_at(flt, FILTER_POINTER))
        want = sorted(i for i, m in metadata.items() if matches(flt, m))
        got = _ids(server.post("/search", json={"vector": [0] * DIM, "k": RECORDS, "filter": flt}))
        assert sorted(got) == want, json.dumps(flt)
        matched.append(len(want))
    # The filters are neither all empty nor all everything.
    assert sum(1 for n in matched if 0 < n < RECORDS) > len(matched) // 3, matched


def test_batch_search_with_a_filter_matches_the_reference_and_search(populated):
    server, metadata = populated
    rng = random.Random(8)
    queries = [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(3)]
    for _ in range(40):
        flt = random_filter(rng)
        want = sorted(i for i, m in metadata.items() if matches(flt, m))
        r = server.post("/search/batch", json={"queries": queries, "k": RECORDS, "filter": flt})
        assert r.status_code == 200, r.text
        lists = r.json()["results"]
        assert len(lists) == len(queries)
        for q, hits in zip(queries, lists):
            assert sorted(h["id"] for h in hits) == want, json.dumps(flt)
            single = server.post("/search", json={"vector": q, "k": RECORDS, "filter": flt}).json()["results"]
            assert hits == single


def test_k_nearest_matches_come_first(populated):
    server, metadata = populated
    flt = {"tags": {"$exists": True}, "$not": {"a": {"$in": STRINGS}}}
    want = {i for i, m in metadata.items() if matches(flt, m)}
    assert len(want) > 10
    everything = _ids(server.post("/search", json={"vector": [0.1] * DIM, "k": RECORDS}))
    nearest = [i for i in everything if i in want][:10]
    assert _ids(server.post("/search", json={"vector": [0.1] * DIM, "k": 10, "filter": flt})) == nearest


def test_integers_compare_exactly_and_huge_ones_as_doubles(server):
    server.upsert({"vectors": [
        {"id": 1, "vector": [1, 0, 0, 0], "metadata": {"n": 2**53 + 1}},
        {"id": 2, "vector": [2, 0, 0, 0], "metadata": {"n": 2**53}},
        {"id": 3, "vector": [3, 0, 0, 0], "metadata": {"n": float(2**53)}},
        {"id": 4, "vector": [4, 0, 0, 0], "metadata": {"n": 2**64 - 1}},
    ]})

    def ids(flt):
        return sorted(_ids(server.post("/search", json={"vector": [0] * DIM, "k": 10, "filter": flt})))

    assert ids({"n": {"$gt": 2**53}}) == [1, 4]
    assert ids({"n": 2**53}) == [2, 3]
    assert ids({"n": {"$gt": float(2**53), "$lt": 2**53 + 2}}) == [1]
    assert ids({"n": 2**64 - 2}) == [4]  # both are the double 2^64
    # The metadata itself comes back as it was written.
    assert server.get("/vectors/4").json()["metadata"] == {"n": 2**64 - 1}


# --------------------------------------------------------------------------- malformed filters

# (filter, the path the problem names, a word the detail must contain)
MALFORMED = [
    (["genre", "jazz"], "filter", "object"),
    ("jazz", "filter", "object"),
    ({"genre": ["jazz", "rock"]}, "filter.genre", "$in"),
    ({"label": {"country": "US"}}, "filter.label.country", "label.country"),
    ({"year": {"$gt": True}}, "filter.year.$gt", "number or a string"),
    ({"year": {"$gte": None}}, "filter.year.$gte", "number or a string"),
    ({"year": {"$lt": [1]}}, "filter.year.$lt", "number or a string"),
    ({"year": {"$lte": {"a": 1}}}, "filter.year.$lte", "number or a string"),
    ({"year": {"$eq": [1, 2]}}, "filter.year.$eq", "$in"),
    ({"year": {"$ne": {"a": 1}}}, "filter.year.$ne", "dotted path"),
    ({"year": {"$in": 1999}}, "filter.year.$in", "array"),
    ({"year": {"$nin": "x"}}, "filter.year.$nin", "array"),
    ({"year": {"$in": [1, [2]]}}, "filter.year.$in[1]", "array"),
    ({"year": {"$nin": [1, 2, {"a": 1}]}}, "filter.year.$nin[2]", "object"),
    ({"year": {"$exists": 1}}, "filter.year.$exists", "true or false"),
    ({"year": {"$between": [1, 2]}}, "filter.year.$between", "unknown operator"),
    ({"year": {"$gt": 1, "$regex": "x"}}, "filter.year.$regex", "unknown operator"),
    ({"year": {}}, "filter.year", "{}"),
    ({"$nor": [{"a": 1}]}, "filter.$nor", "unknown operator"),
    ({"$gt": 1}, "filter.$gt", "inside a field"),
    ({"$and": []}, "filter.$and", "at least one"),
    ({"$or": {"a": 1}}, "filter.$or", "array"),
    ({"$and": [{"a": 1}, 2]}, "filter.$and[1]", "object"),
    ({"$not": [{"a": 1}]}, "filter.$not", "object"),
    ({"$and": [{"a": 1}, {"year": {"$gt": None}}]}, "filter.$and[1].year.$gt", "number or a string"),
    ({"a": 1, "$or": [{"b": 2}, {"$not": {"c": {"$in": [[]]}}}]}, "filter.$or[1].$not.c.$in[0]", "array"),
]


def _wrapped(rng, flt, path):
    """The malformed filter one or two levels down, beside valid members, and the path it then has."""
    for _ in range(rng.randrange(1, 3)):
        kind = rng.choice(["$and", "$or", "$not"])
        if kind == "$not":
            flt, path = {"ok": 1, "$not": flt}, path.replace("filter", "filter.$not", 1)
        else:
            flt, path = {kind: [{"ok": 1}, flt]}, path.replace("filter", f"filter.{kind}[1]", 1)
    return flt, path


@pytest.mark.parametrize("route", ["/search", "/search/batch"])
def test_every_malformed_filter_is_a_400_naming_its_path(populated, route):
    server, _ = populated
    checker = SpecChecker()
    rng = random.Random(9)
    before = state_snapshot(server, [0, 1, 2])
    cases = MALFORMED + [(*_wrapped(rng, flt, path), word) for flt, path, word in MALFORMED]
    for flt, path, word in cases:
        body = {"vector": [0] * DIM} if route == "/search" else {"queries": [[0] * DIM]}
        r = server.post(route, json={**body, "filter": flt})
        problem = assert_problem(r, 400, "invalid-request")
        assert problem.get("field") == path, (json.dumps(flt), problem)
        assert problem["detail"].startswith(path + ": ") and word in problem["detail"], (json.dumps(flt), problem)
        assert checker.validate_at(flt, FILTER_POINTER), f"the spec's Filter schema accepts {json.dumps(flt)}"
    assert_unchanged(server, before)


def test_an_empty_or_null_filter_matches_every_record(populated):
    server, metadata = populated
    for flt in ({}, None):
        assert sorted(_ids(server.post("/search", json={"vector": [0] * DIM, "k": RECORDS, "filter": flt}))) \
            == sorted(metadata)

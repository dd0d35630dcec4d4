"""Reading in id order, by ids and by filter, and deleting many records in one transaction, through the service:
an export through pages equals what was written (Flat, and HNSW with records pending), counts equal a count in
Python, lookups list missing ids, bulk deletes are never found again and are all or nothing across SIGKILL, and
every malformed request is a 4xx problem naming its field that changes nothing."""
from __future__ import annotations

import random
import threading
import time

import pytest

from lynx_helpers import U64_MAX, assert_problem, assert_unchanged, f32v, state_snapshot

pytestmark = [pytest.mark.live]

DIM = 4
# A graph slow enough to build that a few thousand records stay pending for a while on any machine.
SLOW_HNSW = dict(dimension=DIM, index="hnsw", hnsw_m=32, hnsw_ef_construction=2000, index_threads=1)
FLAT = dict(dimension=DIM, index="flat")


def make_records(n: int, seed: int) -> dict[int, dict]:
    """n records with distinct sparse ids (0 and 2^64-1 among them); most with metadata, some without."""
    rng = random.Random(seed)
    ids = {0, U64_MAX}
    while len(ids) < n:
        ids.add(rng.randrange(U64_MAX))
    out = {}
    for i, id_ in enumerate(sorted(ids)):
        rec = {"id": id_, "vector": [rng.uniform(-1, 1) for _ in range(DIM)]}
        if i % 5:
            rec["metadata"] = {"lang": rng.choice(["en", "de", "fr"]), "year": rng.randrange(1990, 2030), "i": i}
        out[id_] = rec
    return out


def load(srv, records, batch=1000):
    recs = list(records)
    for start in range(0, len(recs), batch):
        srv.upsert(recs[start:start + batch])


def export(srv, limit: int, include: str | None = None) -> list[dict]:
    got, after = [], None
    for _ in range(100_000):
        q = f"limit={limit}" + (f"&after={after}" if after is not None else "") + (
            f"&include={include}" if include is not None else "")
        r = srv.get(f"/vectors?{q}")
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["vectors"]) <= limit
        got += [normalized(v) for v in page["vectors"]]
        if page["next_after"] is None:
            return got
        assert page["next_after"] == page["vectors"][-1]["id"]
        after = page["next_after"]
    raise AssertionError("paging did not end")


def normalized(view: dict) -> dict:
    """A returned record with its vector as float32 values (the server writes the shortest decimal that rounds
    back to the float32; Python parses that as a nearby double)."""
    if "vector" in view:
        view = dict(view, vector=f32v(view["vector"]))
    return view


def expected_view(rec: dict, vector=True, metadata=True) -> dict:
    out = {"id": rec["id"]}
    if vector:
        out["vector"] = f32v(rec["vector"])
    if metadata and "metadata" in rec:
        out["metadata"] = rec["metadata"]
    return out


def search_ids(srv, vector, k=1000) -> set[int]:
    r = srv.post("/search", json={"vector": vector, "k": k, "ef_search": 2000})
    assert r.status_code == 200, r.text
    return {hit["id"] for hit in r.json()["results"]}


@pytest.mark.parametrize("kind", ["flat", "hnsw-pending"])
def test_export_through_pages_equals_what_was_written(start_server, kind):
    srv = start_server(**(FLAT if kind == "flat" else SLOW_HNSW))
    records = make_records(2500, seed=3)
    load(srv, records.values())
    # Replace some (new vector, metadata dropped) and delete some, so the export is of the latest state.
    rng = random.Random(4)
    ids = sorted(records)
    replaced = rng.sample(ids, 200)
    for id_ in replaced:
        records[id_] = {"id": id_, "vector": [rng.uniform(-1, 1) for _ in range(DIM)]}
    srv.upsert([records[i] for i in replaced])
    for id_ in rng.sample(ids, 100):
        assert srv.delete(f"/vectors/{id_}").status_code == 200
        del records[id_]
    if kind == "hnsw-pending":
        assert srv.health()["linking"]["pending"] > 0, "nothing pending: the export would not cover the tail"
    want = [expected_view(records[i]) for i in sorted(records)]
    for limit in (1000, 333, 7):
        assert export(srv, limit) == want, f"limit {limit}"
    assert export(srv, 500, include="metadata") == [expected_view(records[i], vector=False) for i in sorted(records)]
    assert export(srv, 500, include="") == [{"id": i} for i in sorted(records)]
    assert export(srv, 500, include="vector,metadata") == want
    # A cursor between two ids starts at the next one; the last page says there is no next.
    middle = sorted(records)[len(records) // 2]
    page = srv.get(f"/vectors?after={middle - 1}&limit=2&include=").json()
    assert [v["id"] for v in page["vectors"]] == sorted(records)[len(records) // 2:][:2]
    page = srv.get(f"/vectors?after={U64_MAX}").json()
    assert page == {"vectors": [], "next_after": None}


def test_count_with_and_without_filter(start_server):
    srv = start_server(**FLAT)
    records = make_records(1500, seed=5)
    load(srv, records.values())
    n = len(records)
    assert srv.post("/count", json={}).json() == {"count": n}
    assert srv.post("/count").json() == {"count": n}
    assert srv.post("/count", json={"filter": None}).json() == {"count": n}
    for lang in ("en", "de", "fr", "xx"):
        want = sum(1 for r in records.values() if r.get("metadata", {}).get("lang") == lang)
        r = srv.post("/count", json={"filter": {"lang": lang}})
        assert r.status_code == 200 and r.json() == {"count": want}, (lang, r.text)
    cases = [
        ({"lang": "en", "year": 2000}, lambda m: m.get("lang") == "en" and m.get("year") == 2000),
        ({"year": {"$gte": 2020}}, lambda m: m.get("year", 0) >= 2020),
        ({"$or": [{"lang": "fr"}, {"year": {"$lt": 1995}}]},
         lambda m: m.get("lang") == "fr" or m.get("year", 9999) < 1995),
        # Records without metadata pass these two.
        ({"lang": {"$exists": False}}, lambda m: "lang" not in m),
        ({"$not": {"lang": {"$in": ["en", "de"]}}}, lambda m: m.get("lang") not in ("en", "de")),
    ]
    for filter_, reference in cases:
        want = sum(1 for r in records.values() if reference(r.get("metadata", {})))
        assert srv.post("/count", json={"filter": filter_}).json() == {"count": want}, filter_


def test_get_lists_missing_ids_in_the_order_asked(start_server):
    srv = start_server(**FLAT)
    records = make_records(50, seed=6)
    load(srv, records.values())
    present = sorted(records)[10:14]
    absent = [i for i in (1, 2, 3, 12345) if i not in records]
    asked = [present[2], absent[0], present[0], absent[1], present[3], present[1]]
    r = srv.post("/vectors/get", json={"ids": asked})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [normalized(v) for v in body["vectors"]] == [expected_view(records[i]) for i in asked if i in records]
    assert body["missing"] == [i for i in asked if i not in records]
    assert srv.post("/vectors/get", json={"ids": [absent[2]]}).json() == {"vectors": [], "missing": [absent[2]]}


@pytest.mark.parametrize("kind", ["flat", "hnsw-pending"])
def test_deleted_records_are_never_found_again(start_server, kind):
    srv = start_server(**(FLAT if kind == "flat" else SLOW_HNSW))
    records = make_records(900, seed=7)  # fewer than k = 1000: a search returns every live record
    load(srv, records.values())
    by_ids = sorted(records)[100:140] + [12345678]  # one absent id: skipped, not counted
    r = srv.post("/vectors/delete", json={"ids": by_ids})
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == 40 and r.json()["durable"] is False
    for i in by_ids[:40]:
        del records[i]
    german = [i for i, rec in records.items() if rec.get("metadata", {}).get("lang") == "de"]
    r = srv.post("/vectors/delete?durable=true", json={"filter": {"lang": "de"}})
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == len(german) and r.json()["durable"] is True
    assert srv.health()["wal"]["durable_lsn"] >= r.json()["lsn"]
    for i in german:
        del records[i]
    if kind == "hnsw-pending":
        assert srv.health()["linking"]["pending"] > 0
    gone = set(by_ids) | set(german)
    for q in ([0, 0, 0, 0], [1, 1, 1, 1], [-1, 0.5, -0.5, 1]):
        found = search_ids(srv, q)
        assert not found & gone
        assert found == set(records)
    assert srv.post("/count", json={"filter": {"lang": "de"}}).json() == {"count": 0}
    assert srv.post("/vectors/get", json={"ids": by_ids[:3]}).json()["missing"] == by_ids[:3]
    # Nothing left to match: nothing is logged.
    lsn = srv.health()["wal"]["last_lsn"]
    r = srv.post("/vectors/delete", json={"filter": {"lang": "de"}})
    assert r.json() == {"deleted": 0, "lsn": lsn, "durable": False}
    assert srv.health()["wal"]["last_lsn"] == lsn


def test_delete_by_filter_may_remove_more_than_the_batch_limit(start_server):
    srv = start_server(**FLAT, max_batch=100)
    records = make_records(1000, seed=8)
    load(srv, records.values(), batch=100)
    en = [i for i, rec in records.items() if rec.get("metadata", {}).get("lang") == "en"]
    assert len(en) > 100
    r = srv.post("/vectors/delete", json={"filter": {"lang": "en"}})
    assert r.status_code == 200 and r.json()["deleted"] == len(en), r.text
    assert srv.post("/count").json() == {"count": 1000 - len(en)}
    r = srv.post("/vectors/delete", json={"ids": list(range(101))})
    body = assert_problem(r, 422, "out-of-range")
    assert body["field"] == "ids" and body["limit"] == 100
    assert_problem(srv.get("/vectors?limit=101"), 422, "out-of-range")
    assert srv.get("/vectors?limit=100").status_code == 200


GROUP = 3000   # records per bulk delete: a transaction of ~120 KB of log, long enough to be cut by a kill
GROUPS = 12


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_sigkill_during_bulk_deletes_leaves_each_all_or_nothing(start_server, tmp_path, kind):
    """A loop of large bulk deletes (alternately by filter and by ids) killed at a random moment: after the
    restart every group is either whole or entirely gone, and every acknowledged delete is gone."""
    rng = random.Random()
    seed = rng.randrange(2**31)
    rng.seed(seed)
    flags = dict(FLAT) if kind == "flat" else dict(dimension=DIM, index="hnsw", hnsw_m=8, hnsw_ef_construction=32)
    for cycle in range(3):
        data_dir = tmp_path / f"data-{cycle}"
        srv = start_server(data_dir=data_dir, **flags)
        for g in range(GROUPS):
            srv.upsert([{"id": g * GROUP + i, "vector": [g, i % 97, 1, 0], "metadata": {"group": g}}
                        for i in range(GROUP)])
        acknowledged: list[int] = []
        errors: list[str] = []

        def deleter():
            for g in range(GROUPS):
                body = ({"filter": {"group": g}} if g % 2 == 0
                        else {"ids": list(range(g * GROUP, (g + 1) * GROUP))})
                try:
                    r = srv.post("/vectors/delete", json=body, timeout=10)
                except Exception:
                    return  # the server was killed
                if r.status_code != 200 or r.json()["deleted"] != GROUP:
                    errors.append(f"group {g}: {r.status_code} {r.text[:200]}")
                    return
                acknowledged.append(g)

        t = threading.Thread(target=deleter)
        t.start()
        # Kill after a random number of acknowledged deletes, at a random moment within the next one or two.
        target = rng.randrange(GROUPS - 1)
        deadline = time.monotonic() + 20
        while len(acknowledged) < target and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.02))
        srv.kill()
        t.join(timeout=20)
        assert not t.is_alive()
        assert not errors, (seed, errors)
        srv = start_server(data_dir=data_dir, **flags)
        for g in range(GROUPS):
            left = srv.post("/count", json={"filter": {"group": g}}).json()["count"]
            assert left in (0, GROUP), f"seed {seed} cycle {cycle}: group {g} partly deleted ({left} left)"
            if g in acknowledged:
                assert left == 0, f"seed {seed} cycle {cycle}: acknowledged delete of group {g} undone"
            # The ids a delete touched agree with the count: the first and last of the group, and one inside.
            probe = [g * GROUP, g * GROUP + GROUP // 2, (g + 1) * GROUP - 1]
            missing = srv.post("/vectors/get", json={"ids": probe}).json()["missing"]
            assert missing == (probe if left == 0 else []), (seed, cycle, g, left, missing)
        print(f"cycle {cycle}: {len(acknowledged)} of {GROUPS} deletes acknowledged before the kill (seed {seed})")
        srv.stop()


MALFORMED = [
    # (method, path, json body or raw bytes, status, field)
    ("GET", "/vectors?limit=0", None, 422, "limit"),
    ("GET", "/vectors?limit=10001", None, 422, "limit"),
    ("GET", "/vectors?limit=abc", None, 400, "limit"),
    ("GET", "/vectors?limit=%2B5", None, 400, "limit"),
    ("GET", "/vectors?limit=5.0", None, 400, "limit"),
    ("GET", "/vectors?limit=", None, 400, "limit"),
    ("GET", "/vectors?after=-1", None, 400, "after"),
    ("GET", "/vectors?after=18446744073709551616", None, 400, "after"),
    ("GET", "/vectors?after=%201", None, 400, "after"),
    ("GET", "/vectors?after=1&after=2", None, 400, "after"),
    # One spelling per value, as for path ids (issue 13: the spec's pattern for these parameters).
    ("GET", "/vectors?after=01", None, 400, "after"),
    ("GET", "/vectors?limit=05", None, 400, "limit"),
    ("GET", "/vectors?limit=00", None, 400, "limit"),
    ("GET", "/vectors?cursor=1", None, 400, "cursor"),
    ("GET", "/vectors?include=vectors", None, 400, "include"),
    ("GET", "/vectors?include=vector,", None, 400, "include"),
    ("POST", "/vectors/get", {}, 400, "ids"),
    ("POST", "/vectors/get", {"ids": []}, 422, "ids"),
    ("POST", "/vectors/get", {"ids": "1"}, 400, "ids"),
    ("POST", "/vectors/get", {"ids": [1, 1]}, 400, "ids[1]"),
    ("POST", "/vectors/get", {"ids": [1, "2"]}, 400, "ids[1]"),
    ("POST", "/vectors/get", {"ids": [-1]}, 400, "ids[0]"),
    ("POST", "/vectors/get", {"ids": [1.5]}, 400, "ids[0]"),
    ("POST", "/vectors/get", {"ids": [U64_MAX + 1]}, 400, "ids[0]"),
    ("POST", "/vectors/get", {"ids": [1], "include": ["vector"]}, 400, "include"),
    ("POST", "/vectors/get?durable=true", {"ids": [1]}, 400, "durable"),
    ("POST", "/vectors/get", [1, 2], 400, None),
    ("POST", "/vectors/delete", {}, 400, "ids"),
    ("POST", "/vectors/delete", {"ids": [1], "filter": {"lang": "en"}}, 400, "filter"),
    ("POST", "/vectors/delete", {"ids": [1, 2, 1]}, 400, "ids[2]"),
    ("POST", "/vectors/delete", {"ids": []}, 422, "ids"),
    ("POST", "/vectors/delete", {"filter": 3}, 400, "filter"),
    ("POST", "/vectors/delete", {"filter": {"lang": "en"}, "all": True}, 400, "all"),
    ("POST", "/vectors/delete?durable=maybe", {"ids": [1]}, 400, "durable"),
    ("POST", "/vectors/delete?force=1", {"ids": [1]}, 400, "force"),
    ("POST", "/count", {"filter": 3}, 400, "filter"),
    ("POST", "/count", {"filter": {"$and": [{"year": {"$gt": []}}]}}, 400, "filter.$and[0].year.$gt"),
    ("POST", "/vectors/delete", {"filter": {"lang": {"$in": "en"}}}, 400, "filter.lang.$in"),
    ("POST", "/count", {"where": {}}, 400, "where"),
    ("POST", "/count?x=1", {}, 400, "x"),
    ("POST", "/count", [], 400, None),
]


def test_malformed_requests_are_problems_that_change_nothing(start_server):
    srv = start_server(**FLAT)
    records = make_records(30, seed=9)
    load(srv, records.values())
    before = state_snapshot(srv, sorted(records)[:3])
    for method, path, body, status, field in MALFORMED:
        r = srv.request(method, path, json=body) if body is not None else srv.request(method, path)
        problem = assert_problem(r, status)
        assert problem.get("field") == field, (method, path, body, problem)
    # Not JSON, wrong media type, wrong methods; /vectors/get and /vectors/delete are never taken for ids.
    for path in ("/vectors/get", "/vectors/delete", "/count"):
        assert_problem(srv.post_raw(path, b'{"ids": [1'), 400, "invalid-json")
        assert_problem(srv.post_raw(path, b'{"ids": [1]}', content_type="text/plain"), 415, "unsupported-media-type")
    for method, path in (("GET", "/vectors/get"), ("DELETE", "/vectors/get"), ("GET", "/vectors/delete"),
                         ("DELETE", "/vectors/delete"), ("GET", "/count"), ("DELETE", "/vectors")):
        r = srv.request(method, path)
        assert_problem(r, 405, "method-not-allowed")
        assert "POST" in r.headers["Allow"], (method, path, r.headers["Allow"])
    assert_unchanged(srv, before)
    assert export(srv, 100) == [expected_view(records[i]) for i in sorted(records)]


def test_pages_with_a_filter_visit_exactly_the_matching_records(start_server):
    """GET /vectors?filter=<JSON>: the pages of a filtered scroll hold exactly the matching records, in id order."""
    import json as _json
    from urllib.parse import quote
    srv = start_server(**FLAT)
    records = make_records(1200, seed=8)
    load(srv, records.values())
    cases = [
        ({"lang": "de"}, lambda m: m.get("lang") == "de"),
        ({"year": {"$gte": 2025}, "lang": {"$ne": "en"}}, lambda m: m.get("year", 0) >= 2025 and m.get("lang") != "en"),
        ({"lang": {"$exists": False}}, lambda m: "lang" not in m),
        ({"year": 1000}, lambda m: False),
    ]
    for filter_, reference in cases:
        want = [i for i in sorted(records) if reference(records[i].get("metadata", {}))]
        got, after = [], None
        for _ in range(10_000):
            q = f"limit=37&include=&filter={quote(_json.dumps(filter_))}" + (f"&after={after}" if after is not None else "")
            r = srv.get(f"/vectors?{q}")
            assert r.status_code == 200, r.text
            page = r.json()
            got += [v["id"] for v in page["vectors"]]
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert got == want, filter_
    before = state_snapshot(srv)
    for bad, field in [("{", "filter"), ('{"year": {"$gt": true}}', "filter.year.$gt"), ("[1]", "filter")]:
        problem = assert_problem(srv.get(f"/vectors?filter={quote(bad)}"), 400, "invalid-request")
        assert problem.get("field") == field, (bad, problem)
    assert_unchanged(srv, before)

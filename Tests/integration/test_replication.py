"""Replication with a real etcd and three real lynxd on 127.0.0.1 (issue 14): followers fed by the leader's log hold
exactly the leader's content, serve reads, refuse writes naming the leader; the log feed's bytes; a follower
restarted catches up from its own log, one wiped from a snapshot. Failover: test_replication_failover.py.
"""
from __future__ import annotations

import itertools
import random
import re
import struct
import threading
import time

import pytest

from cluster import default_store, make_cluster, stores_by_collection  # noqa: F401  (make_cluster is a fixture)
from lynx_helpers import PROBLEM_MEDIA_TYPE, assert_problem, media_type, wait_until
from replication_load import Log, Monitor, Writer, export, record, stop_all

pytestmark = [pytest.mark.live, pytest.mark.slow]


def ok(r, *codes):
    assert r.status_code in (codes or (200,)), f"{r.request.method} {r.url}: {r.status_code} {r.text[:400]}"
    return r.json()


def comparable(node, prefixes):
    """What must be equal on every node: records, metadata indexes and collections (settings)."""
    cols = ok(node.get("/collections"))["collections"]
    return {
        "collections": sorted((c["name"], tuple(sorted(c["settings"].items()))) for c in cols),
        "records": {p: export(node, p) for p in prefixes},
        "indexes": {p: ok(node.get(f"{p}/indexes"))["indexes"] for p in prefixes},
    }


def test_followers_hold_the_leaders_content_and_refuse_writes(make_cluster):
    c = make_cluster(3)
    leader = c.wait_leader()
    followers = c.others(leader)
    rng = random.Random(14)

    # Default store: batches with metadata, replacements, single and bulk deletes, a delete by filter.
    ok(leader.post("/vectors", json={"vectors": [record(i) for i in range(300)]}))
    for i in range(0, 300, 7):
        ok(leader.post("/vectors", json={"id": i, "vector": [i / 4, 1, 2, 3], "metadata": {"v": 2, "g": "new"}}))
    for i in range(1, 300, 11):
        ok(leader.request("DELETE", f"/vectors/{i}"))
    ok(leader.post("/vectors/delete", json={"ids": list(range(200, 220))}))
    ok(leader.post("/vectors/delete", json={"filter": {"g": "g3"}}))
    ok(leader.request("PUT", "/indexes/g", json={"type": "keyword"}), 201)
    ok(leader.request("PUT", "/indexes/i", json={"type": "integer"}), 201)
    ok(leader.request("DELETE", "/indexes/i"))
    # Collections with writes of their own: exact cosine, HNSW; one created and dropped again.
    ok(leader.request("PUT", "/collections/books", json={"dimension": 3, "metric": "cosine", "index": "flat"}), 201)
    ok(leader.post("/collections/books/vectors", json={"vectors": [
        {"id": i, "vector": [1 + i % 3, i % 5 + 0.5, 2.25], "metadata": {"shelf": i % 4}} for i in range(120)]}))
    ok(leader.request("PUT", "/collections/books/indexes/shelf", json={"type": "integer"}), 201)
    ok(leader.request("DELETE", "/collections/books/vectors/5"))
    ok(leader.request("PUT", "/collections/graph", json={"dimension": 4, "index": "hnsw", "quantization": {"type": "sq8"},
                                                              "on_disk": True}), 201)
    ok(leader.post("/collections/graph/vectors", json={"vectors": [record(i) for i in range(1000, 2200)]}))
    ok(leader.request("PUT", "/collections/gone", json={"dimension": 2, "index": "flat"}), 201)
    ok(leader.post("/collections/gone/vectors", json={"id": 1, "vector": [1, 2]}))
    ok(leader.request("DELETE", "/collections/gone"))

    prefixes = ["", "/collections/books", "/collections/graph"]
    c.wait_converged()
    want = comparable(leader, prefixes)
    assert len(want["records"][""]) > 200 and len(want["records"]["/collections/graph"]) == 1200
    assert [i["field"] for i in want["indexes"][""]] == ["g"]
    for f in followers:
        assert comparable(f, prefixes) == want, f"{f.name} differs from leader {leader.name}"
        assert ok(f.get("/vectors/7")) == ok(leader.get("/vectors/7"))
        assert_problem(f.get("/vectors/1"), 404, "not-found")  # deleted on the leader
        # The catalog carries the quantization: the follower's copy keeps codes as the leader's does.
        assert ok(f.get("/collections/graph"))["settings"]["quantization"] == {"type": "sq8"}
        assert ok(f.get("/collections/graph"))["settings"]["on_disk"] is True
        wait_until(lambda: not ok(f.get("/collections/graph"))["linking"]["behind"], timeout=60, what="graph linked")
        assert ok(f.get("/collections/graph/stats"))["index"]["quantizer"] == "fitted"

    # Followers serve searches with the leader's answers (exact stores; HNSW with an ef that makes it exact here).
    queries = [[rng.randrange(-512, 512) / 4 for _ in range(4)] for _ in range(10)]
    for q in queries:
        for path, body in (("/search", {"vector": q, "k": 10, "include": ["metadata"]}),
                           ("/search", {"vector": q, "k": 5, "filter": {"g": "g1"}}),
                           ("/collections/books/search", {"vector": [1, q[0] % 3 + 1, 2], "k": 7,
                                                           "filter": {"shelf": {"$gte": 2}}}),
                           ("/collections/graph/search", {"vector": q, "k": 10, "ef_search": 1000, "oversample": 100})):
            expected = ok(leader.post(path, json=body))
            for f in followers:
                assert ok(f.post(path, json=body)) == expected, (f.name, path, body)
    # A follower's checkpoint maps its vectors on disk (on_disk came with the catalog); answers stay the leader's.
    for f in followers:
        ok(f.post("/collections/graph/checkpoint", json={}))
        assert ok(f.get("/collections/graph/stats"))["memory"]["mapped_vector_bytes"] == 1200 * 4 * 4
    for q in queries:
        body = {"vector": q, "k": 10, "ef_search": 1000, "oversample": 100}
        expected = ok(leader.post("/collections/graph/search", json=body))
        for f in followers:
            assert ok(f.post("/collections/graph/search", json=body)) == expected, (f.name, body)

    # Every write route on a follower: 421 problem+json naming the leader; nothing changes there.
    before = comparable(followers[0], prefixes)
    writes = [("POST", "/vectors", {"id": 9999, "vector": [1, 2, 3, 4]}),
              ("POST", "/vectors?durable=true", {"vectors": [record(9998)]}),
              ("DELETE", "/vectors/7", None),
              ("POST", "/vectors/delete", {"ids": [7, 8]}),
              ("PUT", "/indexes/g2", {"type": "keyword"}),
              ("DELETE", "/indexes/g", None),
              ("PUT", "/collections/new", {"dimension": 2}),
              ("DELETE", "/collections/books", None),
              ("POST", "/collections/books/vectors", {"id": 1, "vector": [1, 1, 1]}),
              ("DELETE", "/collections/books/vectors/1", None),
              ("PUT", "/collections/books/indexes/x", {"type": "bool"})]
    for f in followers:
        for method, path, body in writes:
            r = f.request(method, path, json=body)
            problem = assert_problem(r, 421, "not-leader")
            assert problem["leader"] == {"node": leader.name, "url": leader.url}, (path, problem)
            assert "Location" not in r.headers
    # /flush and /checkpoint are local to a follower's own log: allowed.
    ok(followers[0].post("/flush"))
    assert comparable(followers[0], prefixes) == before


def test_status_health_and_metrics_describe_the_cluster(make_cluster):
    c = make_cluster(3)
    leader = c.wait_leader()
    ok(leader.post("/vectors", json={"vectors": [record(i) for i in range(50)]}))
    c.wait_converged()
    statuses = c.statuses()
    term = statuses[leader.name]["term"]
    assert isinstance(term, int) and term > 0
    for node in c.nodes:
        s = statuses[node.name]
        assert s["node"] == node.name and s["term"] == term and s["mode"] == "async", s
        assert s["leader"] == {"node": leader.name, "url": leader.url}, s
        assert s["role"] == ("leader" if node is leader else "follower"), s
        store = stores_by_collection(s)
        assert len(store) == 1, s
        (entry,) = store.values()
        assert entry["last_lsn"] == 50, s
        if node is not leader:
            assert entry["lag_frames"] == 0 and entry["lag_seconds"] == 0, s
            assert entry["discarded_frames"] == 0, s
    # A follower's acknowledgement is its durable LSN (synced at the latest --sync-interval after it applied).
    wait_until(lambda: {f["node"] for f in leader.status()["followers"]} == {n.name for n in c.others(leader)},
               timeout=5, what="both followers listed by the leader")

    for node in c.nodes:
        h = ok(node.get("/health"))["replication"]
        role = "leader" if node is leader else "follower"
        assert h["role"] == role and h["term"] == term, h
        text = node.get("/metrics").text
        if node is leader:
            for f in c.others(leader):
                acked = rf'^lynx_replication_follower_acked_lsn\{{[^}}]*node="{f.name}"[^}}]*\}} 50(\.0)?$'
                def scrape(pattern=acked):
                    t = node.get("/metrics").text
                    return t if re.search(pattern, t, re.M) else None
                text = wait_until(scrape, timeout=5, what=f"the leader's acked LSN 50 for {f.name}")
        assert re.search(rf'^lynx_replication_role\{{role="{role}"\}} 1(\.0)?$', text, re.M), role
        assert re.search(rf"^lynx_replication_term {term}(\.0)?$", text, re.M)
        if node is not leader:
            assert re.search(r"^lynx_replication_lag_frames\{[^}]*\} 0(\.0)?$", text, re.M)
            assert re.search(r"^lynx_replication_discarded_frames_total(\{[^}]*\})? 0(\.0)?$", text, re.M)


# --------------------------------------------------------------------------- the feed's bytes

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data: bytes, crc: int = 0) -> int:
    """docs/STORAGE_FORMATS.md's CRC-32C, continuing the finished value `crc` (extend)."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


HEADER = 48  # the store's history id is at offset 8


def parse_batch(body: bytes) -> dict:
    """Checks and decodes one application/vnd.lynx.replication batch: header, term history, frames."""
    assert crc32c(b"123456789") == 0xE3069283
    assert len(body) >= HEADER and body[:4] == b"LYRB", body[:8]
    version, h, store_id, term, durable, first, size, check = struct.unpack_from("<HHQQQQII", body, 4)
    assert version == 1 and check == crc32c(body[:HEADER - 4])
    history = [struct.unpack_from("<QQ", body, HEADER + 16 * k) for k in range(h)]
    frames_at = HEADER + 16 * h
    assert len(body) == frames_at + size, (len(body), frames_at, size)
    prev, o, frames = crc32c(body[:frames_at]), frames_at, []
    while o < len(body):
        n, op, flags, reserved, lsn, s1, s2, hcheck, csum = struct.unpack_from("<IBBHQIIII", body, o)
        assert (s1, s2, reserved) == (0, 0, 0) and hcheck == crc32c(body[o:o + 24])
        payload = body[o + 32:o + 32 + n]
        assert len(payload) == n
        prev = crc32c(body[o:o + 28] + payload, prev)
        assert csum == prev, f"cumulative checksum of frame {lsn}"
        frames.append({"lsn": lsn, "op": op, "commit": bool(flags & 1), "payload": payload})
        o += 32 + n
    if frames:
        assert first == frames[0]["lsn"] and frames[-1]["commit"]
        assert [f["lsn"] for f in frames] == list(range(first, first + len(frames)))
    else:
        assert first == 0
    return {"term": term, "durable": durable, "first": first, "history": history, "frames": frames,
            "store_id": store_id}


def upserted(frame) -> tuple[int, list[float]]:
    p = frame["payload"]
    i, d, _m = struct.unpack_from("<QII", p)
    return i, list(struct.unpack_from(f"<{d}f", p, 16))


STORE_ID_PARAM = "store_id"  # the follower's store history id (the id a batch carries)
TTL_BOUND = 2 + 3  # lease TTL + 3 s


def test_the_log_feed_bytes_and_answers(make_cluster):
    c = make_cluster(2)
    leader = c.wait_leader()
    follower = c.others(leader)[0]
    term = leader.status()["term"]
    ok(leader.post("/vectors", json={"vectors": [record(i) for i in range(5)]}))
    ok(leader.post("/vectors?durable=true", json={"id": 7, "vector": [1, 2, 3, 4]}))
    ok(leader.request("PUT", "/collections/books", json={"dimension": 3, "metric": "cosine", "index": "flat"}), 201)
    ok(leader.post("/collections/books/vectors?durable=true", json={"id": 3, "vector": [1, 2, 3]}))
    c.wait_converged()

    def feed(node, prefix="", **q):
        query = {"node": "probe", "wait_ms": 200, "term": 0, **q}
        return node.get(f"{prefix}/replication/log?" + "&".join(f"{k}={v}" for k, v in query.items()), timeout=5)

    r = feed(leader, after=0)
    assert r.status_code == 200 and media_type(r) == "application/vnd.lynx.replication", r.headers
    b = parse_batch(r.content)
    assert b["term"] == term and b["durable"] == 6 and b["first"] == 1
    assert b["history"] and b["history"][-1][0] == term and [t for t, _ in b["history"]] == sorted(
        t for t, _ in b["history"])
    assert [upserted(f) for f in b["frames"]] == [(i, record(i)["vector"]) for i in range(5)] + [(7, [1, 2, 3, 4])]
    assert [f["commit"] for f in b["frames"]] == [False] * 4 + [True, True]
    # A follower holding LSN 6 of this term: `last_term` is the term that wrote its frame at `after`.
    at = {"term": term, "last_term": term, STORE_ID_PARAM: b["store_id"]}

    # Caught up: an empty batch once wait_ms has passed.
    t0 = time.monotonic()
    r = feed(leader, after=6, **at)
    empty = parse_batch(r.content)
    assert r.status_code == 200 and empty["frames"] == [] and empty["durable"] == 6
    assert time.monotonic() - t0 >= 0.15
    # A durable write while a poll waits ends the wait with it.
    answer = {}
    poll = threading.Thread(target=lambda: answer.update(r=feed(leader, after=6, wait_ms=2000, **at),
                                                         t=time.monotonic()))
    poll.start()
    time.sleep(0.3)
    written = time.monotonic()
    ok(leader.post("/vectors?durable=true", json={"id": 8, "vector": [4, 3, 2, 1]}))
    poll.join(5)
    assert [upserted(f) for f in parse_batch(answer["r"].content)["frames"]] == [(8, [4, 3, 2, 1])]
    assert answer["t"] - written < 1.0, "the held poll was not answered when the frame became durable"
    # max_bytes below one transaction still brings that whole transaction, and only it.
    r = feed(leader, after=0, max_bytes=100)
    assert [f["lsn"] for f in parse_batch(r.content)["frames"]] == [1, 2, 3, 4, 5]

    # Beyond the leader's log: 409 diverged, naming the first LSN the follower must discard.
    problem = assert_problem(feed(leader, after=20, **at), 409, "diverged")
    assert problem["diverged_at"] == 8, problem
    # A follower is not the feed.
    problem = assert_problem(feed(follower, after=0), 421, "not-leader")
    assert problem["leader"] == {"node": leader.name, "url": leader.url}
    # The collection's own log, through the twin route.
    books = parse_batch(feed(leader, "/collections/books", after=0).content)
    assert [upserted(f) for f in books["frames"]] == [(3, [1, 2, 3])] and books["durable"] == 1
    cat = ok(leader.get("/replication/catalog"))
    assert cat["term"] == term
    (entry,) = [col for col in cat["collections"] if col["name"] == "books"]
    assert (entry["dimension"], entry["metric"], entry["index"]) == (3, "cosine", "flat"), cat

    # After a failover the history has two terms. A follower whose LSN 3 was written in a term between them (one
    # the new leader never had) is not on its history, though LSN 3 exists there: 409, at or before 3.
    c.wait_converged()
    leader.kill()
    new = c.wait_leader(timeout=TTL_BOUND, among=[follower])
    b2 = parse_batch(feed(new, after=0).content)
    terms = [t for t, _ in b2["history"]]
    assert len(terms) == 2 and terms[0] == term and b2["history"][1][1] == 8, b2["history"]
    at2 = {STORE_ID_PARAM: b2["store_id"]}
    ok_answer = feed(new, after=5, term=term, last_term=term, **at2)
    assert ok_answer.status_code == 200 and parse_batch(ok_answer.content)["first"] == 6
    between = term + 1  # terms are etcd revisions: the node keys' refreshes put many between two elections
    assert between < b2["history"][1][0], b2["history"]
    problem = assert_problem(feed(new, after=3, term=between, last_term=between, **at2), 409, "diverged")
    assert 1 <= problem["diverged_at"] <= 3 and problem["term_known"] is False, problem


# --------------------------------------------------------------------------- catching up

WINDOW = 1 << 20  # the smallest --replication-window-bytes lynxd takes
# How a follower's log says it started from a leader's snapshot.
BOOTSTRAP = re.compile(r"store started over from the leader's snapshot")


def test_restarted_follower_catches_up_from_its_log_and_a_wiped_one_from_a_snapshot(make_cluster):
    """The leader keeps WINDOW bytes of transactions for followers. A follower down for a few hundred writes
    restarts from its own log (its status shows its LSN at once) and is fed the rest; one whose data directory is
    removed after the leader has written several windows cannot be fed from LSN 1 (410 snapshot-needed) and comes
    back through a snapshot of the leader."""
    c = make_cluster(3, extra_args=("--dimension", 4, "--metric", "l2", "--index", "flat",
                                    "--replication-window-bytes", WINDOW, "--keep-backups", 1))
    leader = c.wait_leader()
    a, b = c.others(leader)
    # The operator's one backup under --keep-backups 1: the bootstrap's own backup must not rotate it out.
    ok(leader.post("/snapshots", json={"name": "operators"}), 201)
    ids = itertools.count(1)
    log = Log()

    def load(seconds: float, writers: int = 3, until=None) -> None:
        """`seconds` of writes, or (with `until`) until until() holds, at most `seconds`."""
        ws = [Writer(ids, log, target=leader, batch=20 if until is None else 200) for _ in range(writers)]
        for w in ws:
            w.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until()):
            time.sleep(0.2)
        stop_all(ws)

    def window_left_behind() -> bool:
        lsn = default_store(ok(leader.get("/replication")))["last_lsn"]
        r = leader.get("/replication/log?after=0&term=0&node=probe&wait_ms=0", timeout=5)
        return r.status_code == 410 and lsn * 40 > 3 * WINDOW

    load(1.0)
    c.wait_converged()
    down_at = default_store(a.status())["last_lsn"]
    a.kill()
    for _ in range(10):  # 200 records: far less than the window
        ok(leader.post("/vectors", json={"vectors": [record(next(ids)) for _ in range(20)]}))
    lacked = default_store(ok(leader.get("/replication")))["last_lsn"] - down_at
    a.restart()
    # Recovered from its own log (it had everything up to down_at): once caught up it has been sent only the
    # frames it lacked. (GET /replication answers during recovery too, with the stores still empty.)
    c.wait_converged(nodes=[leader, a])
    assert default_store(a.status())["applied_frames"] == lacked, (a.status(), lacked)
    # Several windows of writes while b is down, then b comes back empty.
    b.kill()
    b.wipe()
    t0 = time.monotonic()
    load(40.0, until=window_left_behind)
    assert window_left_behind(), "too few writes within 40 s to leave the window behind"
    print(f"left the window behind after {time.monotonic() - t0:.1f} s of writes: leader at LSN "
          f"{default_store(ok(leader.get('/replication')))['last_lsn']}")
    t0 = time.monotonic()
    assert_problem(leader.get("/replication/log?after=0&term=0&node=probe&wait_ms=100", timeout=5), 410,
                   "snapshot-needed")
    b.restart()
    c.wait_converged(timeout=60)
    print(f"the wiped follower converged {time.monotonic() - t0:.1f} s after its restart")
    want = export(leader)
    assert {x.id for x in log.acked()} <= set(want) and all(want[i] == record(i) for i in want)
    for f in (a, b):
        assert export(f) == want, f.name
    assert not BOOTSTRAP.search(a.server.log_text()), "the restarted follower bootstrapped from a snapshot"
    assert BOOTSTRAP.search(b.server.log_text()), "the wiped follower's log does not say it bootstrapped"
    assert default_store(a.status())["bootstraps"] == 0 and default_store(b.status())["bootstraps"] >= 1
    assert [x["name"] for x in ok(leader.get("/snapshots"))["snapshots"]] == ["operators"], \
        "the bootstrap snapshot was left on the leader, or it removed the operator's"

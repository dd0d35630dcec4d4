"""What one read may make the server hold (issue 19, D4 and D5), each against a real lynxd over loopback:
--max-search-results (queries times k) and --max-response-bytes (the answer's bytes) answer 422 and change
nothing; large answers count against --max-body-memory while they are sent, so slow readers are bounded; the
heap a large answer took is given back after it; `$in` is a set lookup, and a filter past its term limit gets 422.
"""
from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from lynx_helpers import assert_problem, assert_unchanged, rss_anon_kib, state_snapshot

pytestmark = pytest.mark.live

MIB = 1 << 20


def records(n: int, dim: int, *, start: int = 0, text: int = 0, seed: int = 7) -> list[dict]:
    rng = random.Random(seed + start)
    out = []
    for i in range(start, start + n):
        r = {"id": i, "vector": [rng.uniform(-1, 1) for _ in range(dim)]}
        if text:
            r["metadata"] = {"n": i, "text": "x" * text}
        out.append(r)
    return out


def load(srv, n: int, dim: int, *, text: int = 0, batch: int = 2000) -> None:
    for start in range(0, n, batch):
        srv.upsert(records(min(batch, n - start), dim, start=start, text=text))


# --------------------------------------------------------------------------- --max-search-results


def test_search_results_past_the_limit_get_422_and_change_nothing(start_server):
    srv = start_server(max_search_results=1000)
    load(srv, 20, 4)
    before = state_snapshot(srv, [0, 1])
    q = [0.0, 0.0, 0.0, 0.0]
    for path, body in (("/search/batch", {"queries": [q] * 11, "k": 100}),
                       ("/search/batch", {"queries": [q] * 1001}),  # k defaults to 10
                       ("/collections/default/search/batch", {"queries": [q] * 2, "k": 501})):
        problem = assert_problem(srv.post(path, json=body), 422, "out-of-range")
        assert problem["limit"] == 1000, problem
        assert problem["field"] == "k", problem
        assert "--max-search-results" in problem["detail"], problem
    assert srv.post("/search/batch", json={"queries": [q] * 10, "k": 100}).status_code == 200
    assert srv.post("/search", json={"vector": q, "k": 1000}).status_code == 200
    assert_unchanged(srv, before)


def test_the_default_search_results_limit_is_100000(start_server):
    srv = start_server()
    load(srv, 20, 4)
    q = [0.0, 0.0, 0.0, 0.0]
    problem = assert_problem(srv.post("/search/batch", json={"queries": [q] * 10_000, "k": 11}), 422, "out-of-range")
    assert problem["limit"] == 100_000, problem
    assert srv.post("/search/batch", json={"queries": [q] * 10_000, "k": 10}).status_code == 200


# --------------------------------------------------------------------------- --max-response-bytes


def test_answers_past_max_response_bytes_get_422_and_change_nothing(start_server):
    limit = 256 << 10
    srv = start_server(dimension=16, max_response_bytes=limit)
    load(srv, 2000, 16, text=100)  # about 300 bytes a record with its vector and metadata
    before = state_snapshot(srv, [0, 1999])
    q = [0.0] * 16
    too_large = [
        srv.get("/vectors?limit=2000"),
        srv.get("/vectors?limit=2000&include=metadata"),
        srv.post("/vectors/get", json={"ids": list(range(2000))}),
        srv.post("/search/batch", json={"queries": [q] * 100, "k": 20, "include": ["metadata", "vector"]}),
        srv.post("/search", json={"vector": q, "k": 1000, "include": ["metadata", "vector"]}),
        srv.post("/collections/default/search", json={"vector": q, "k": 1000, "include": ["vector", "metadata"]}),
    ]
    for r in too_large:
        problem = assert_problem(r, 422, "response-too-large")
        assert problem["limit"] == limit, problem
        assert "--max-response-bytes" in problem["detail"], problem
    # The same reads asking for less are answered.
    assert srv.get("/vectors?limit=2000&include=").status_code == 200
    assert srv.get("/vectors?limit=500").status_code == 200
    assert srv.post("/search/batch", json={"queries": [q] * 100, "k": 20}).status_code == 200
    assert_unchanged(srv, before)


# --------------------------------------------------------------------------- memory


def test_a_large_answer_gives_its_memory_back(start_server):
    dim = 256
    srv = start_server(dimension=dim)
    pid = srv.proc.pid
    load(srv, 20_000, dim, text=200, batch=1000)
    rng = random.Random(3)
    body = {"queries": [[rng.uniform(-1, 1) for _ in range(dim)] for _ in range(150)], "k": 100,
            "include": ["metadata", "vector"]}
    # The baseline is taken once the store is settled (nothing pending) and the same kind of search has run, with
    # a small answer, so that what grows after it is the answers alone.
    srv.wait_linked()
    assert srv.post("/search/batch", json=dict(body, k=1)).status_code == 200
    time.sleep(1.5)
    baseline = rss_anon_kib(pid)
    peak = [baseline]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon_kib(pid))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sizes = []
    try:
        for _ in range(3):
            r = srv.post("/search/batch", json=body)
            assert r.status_code == 200, r.text[:300]
            sizes.append(len(r.content))
    finally:
        done.set()
        watcher.join(5)
    # The heap is trimmed shortly after the answers complete.
    tolerance = 24 * 1024
    deadline = time.monotonic() + 5
    after = rss_anon_kib(pid)
    while after - baseline > tolerance and time.monotonic() < deadline:
        time.sleep(0.1)
        after = rss_anon_kib(pid)
    print(f"answer {sizes[0] / MIB:.1f} MiB; RssAnon baseline {baseline / 1024:.0f} MiB, "
          f"peak {peak[0] / 1024:.0f} MiB, after {after / 1024:.0f} MiB")
    assert sizes[0] > 32 * MIB, sizes
    assert peak[0] - baseline > 32 * 1024, f"the answers never showed in RssAnon ({baseline} -> {peak[0]} KiB)"
    # The answers took about 100 MiB at their peak; what may stay is well under a quarter of it.
    assert after - baseline < tolerance, (
        f"RssAnon {baseline} KiB before, {peak[0]} KiB at the peak, still {after} KiB 5 s after the answers")


def request_without_reading(port: int, path: str) -> socket.socket:
    """Sends a GET and leaves the answer unread, with a receive buffer as small as the kernel allows."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: lynx\r\n\r\n".encode())
    return s


def test_slow_readers_hold_no_more_than_max_body_memory(start_server):
    dim = 64
    srv = start_server(dimension=dim, max_body_memory=24 * MIB)
    pid = srv.proc.pid
    load(srv, 10_000, dim, text=100)
    page = "/vectors?limit=9000"
    answer = srv.get(page)
    assert answer.status_code == 200
    size = len(answer.content)
    assert 5 * MIB < size < 8 * MIB, size  # more than the kernel's socket buffers take off the server
    baseline = rss_anon_kib(pid)
    readers = 20  # unbounded, they would hold 20 answers (about 150 MiB)
    slow = [request_without_reading(srv.port, page) for _ in range(readers)]
    try:
        time.sleep(1.0)
        # At most 24 MiB of answers are held for the slow readers; a reader that reads gets the 503 meanwhile.
        problem = assert_problem(srv.get(page), 503, "unavailable")
        assert problem["limit"] == 24 * MIB, problem
        assert "--max-body-memory" in problem["detail"], problem
        held = rss_anon_kib(pid) - baseline
        # The ceiling's 24 MiB, and what the answers refused meanwhile left in the heap for a moment.
        assert held < 64 * 1024, f"{readers} slow readers of {size} bytes took {held} KiB"
    finally:
        for s in slow:
            s.close()
    # Closed readers give their share back.
    deadline = time.monotonic() + 5
    while (status := srv.get(page).status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200


# --------------------------------------------------------------------------- $in, $nin and the term limit


def test_a_large_in_is_a_set_lookup(start_server):
    srv = start_server(dimension=2)
    n = 10_000
    for start in range(0, n, 2500):
        srv.upsert([{"id": i, "vector": [i % 7, i % 11], "metadata": {"tags": [f"t{i}-{j}" for j in range(10)]}}
                    for i in range(start, start + 2500)])
    wanted = {f"t{i}-3" for i in range(0, n, 100)}  # 100 records
    members = sorted(wanted) + [f"other-{m}" for m in range(10_000 - len(wanted))]
    random.Random(5).shuffle(members)
    timings = {}
    for op, expected in (("$in", len(wanted)), ("$nin", n - len(wanted))):
        started = time.monotonic()
        r = srv.post("/count", json={"filter": {"tags": {op: members}}})
        timings[op] = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert r.json()["count"] == expected, (op, r.json())
    # A scan of the member list costs 10^9 string comparisons here, several seconds; a set, milliseconds.
    assert max(timings.values()) < 2.0, timings


def test_a_filter_past_the_term_limit_gets_422_and_changes_nothing(start_server):
    srv = start_server()
    load(srv, 20, 4, text=1)
    before = state_snapshot(srv, [0])
    q = [0.0, 0.0, 0.0, 0.0]
    over = {"n": {"$in": list(range(10_001))}}
    cases = [
        ("/count", {"filter": over}, "filter.n.$in"),
        ("/search", {"vector": q, "filter": over}, "filter.n.$in"),
        ("/vectors/delete", {"filter": {"n": {"$nin": list(range(10_001))}}}, "filter.n.$nin"),
        # $or items and conditions count too: 5,001 items of one condition each.
        ("/count", {"filter": {"$or": [{"n": i} for i in range(5_001)]}}, "filter.$or[4999].n"),
    ]
    for path, body, field in cases:
        problem = assert_problem(srv.post(path, json=body), 422, "out-of-range")
        assert problem["limit"] == 10_000, problem
        assert problem["field"] == field, problem
    r = srv.post("/count", json={"filter": {"n": {"$in": list(range(10_000))}}})
    assert r.status_code == 200 and r.json()["count"] == 20, r.text
    assert_unchanged(srv, before)

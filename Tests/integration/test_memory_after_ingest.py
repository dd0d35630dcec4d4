"""Memory that is given back (issue 21, item 5): once an HNSW ingest over HTTP is linked, lynxd holds about what
the same store holds after a restart, with and without background linking. Before, the drained pending tail's
chunks and every transient buffer of the ingest (request bodies, the builder's plans, grown arrays' old storage)
stayed resident: 1.6-1.8 times the restarted store's memory at this size with background linking.

The bound is 10% of the restarted store plus 12 MiB: glibc keeps the top of each thread's malloc arena (up to its
trim threshold; `malloc_trim` does not return those), a few MiB that do not grow with the store, which at 20,000
records is still a tenth of it (figures in BENCHMARKS.md, "Memory after an ingest").
"""
from __future__ import annotations

import array
import random
import time

import pytest

from lynx_helpers import REPO, rss_anon_kib

pytestmark = [pytest.mark.live, pytest.mark.slow]

DIM = 384
N = 20_000
BATCH = 500
DEV_BASE = REPO.parent / "shared" / "data" / "dev" / "base.f32"


def vectors() -> list[list[float]]:
    """The dev set's real embeddings when present, else unit vectors around random centres."""
    if DEV_BASE.is_file():
        values = array.array("f")
        with open(DEV_BASE, "rb") as f:
            values.fromfile(f, N * DIM)
        return [values[i * DIM:(i + 1) * DIM].tolist() for i in range(N)]
    rng = random.Random(21)
    centres = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(100)]
    out = []
    for _ in range(N):
        v = [x + rng.gauss(0, 0.3) for x in rng.choice(centres)]
        norm = sum(x * x for x in v) ** 0.5
        out.append([x / norm for x in v])
    return out


def settled_rss_kib(pid: int, timeout: float = 15.0) -> int:
    """RssAnon once it has stopped falling for 2 s (lynxd gives freed heap back a second after its work pauses)."""
    deadline = time.monotonic() + timeout
    low, since = rss_anon_kib(pid), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 2:
        time.sleep(0.25)
        now = rss_anon_kib(pid)
        if now < low:
            low, since = now, time.monotonic()
    return low


@pytest.mark.parametrize("index_threads", [None, 0], ids=["background", "inline"])
def test_an_ingest_leaves_about_what_a_restart_holds(start_server, index_threads):
    flags = dict(dimension=DIM, index="hnsw", index_threads=index_threads)
    srv = start_server(**flags)
    data = vectors()
    for start in range(0, N, BATCH):
        srv.upsert([{"id": i, "vector": data[i]} for i in range(start, start + BATCH)])
    srv.wait_linked(timeout=120)
    after_ingest = settled_rss_kib(srv.proc.pid)
    assert srv.stop() == 0
    again = start_server(data_dir=srv.data_dir, **flags)
    again.wait_linked(timeout=120)
    after_restart = settled_rss_kib(again.proc.pid)
    assert again.health()["count"] == N
    print(f"RssAnon per vector: {after_ingest * 1024 / N:.0f} bytes after the ingest, "
          f"{after_restart * 1024 / N:.0f} after a restart ({after_ingest / after_restart:.2f})")
    assert after_ingest <= 1.10 * after_restart + 12 * 1024, (
        f"RssAnon {after_ingest} KiB after the ingest, {after_restart} KiB after a restart")

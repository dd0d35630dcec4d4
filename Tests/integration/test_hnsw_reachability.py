"""Every live HNSW record must be reachable by search.

The fixture is the data directory a crash-torture cycle left behind (LYNX_CRASH_INDEX=hnsw scripts/torture.sh,
seed 1176092539), written before the fix: 243 live 8-d records after heavy churn, where record 100015 (an
outlier component, 65504) had lost every in-link on level 0 (each neighbour's diversity pruning dropped its
back-link, as hnswlib's would), so no search reached it, not even one with its own vector and ef_search 10000.
Inserts now always keep one in-link at the time they are made, consolidation (automatic, at 10% tombstones)
re-links nodes that later pruning left without one, and so does `POST /index/rebuild`. Between two
consolidations a node can still be unreachable: the second test measures that and checks the remedy."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

FIXTURE = Path(__file__).parent / "fixtures" / "hnsw-unreachable-node"


def reachable(srv, dim=8) -> int:
    return len(srv.post("/search", json={"vector": [0.0] * dim, "k": 1000, "ef_search": 10000}).json()["results"])


def test_rebuild_relinks_a_node_no_search_could_reach(start_server, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    srv = start_server(data_dir=data, dimension=None, metric=None, index=None)
    record = srv.get("/vectors/100015")
    assert record.status_code == 200, "the fixture's record must be stored"
    count = srv.stats()["count"]
    # Replaying the fixture's log deletes enough to run a consolidation, which re-links the node. It runs in the
    # background once the replayed records are linked, so the first look waits for the builder to settle.
    srv.wait_linked()
    assert reachable(srv) == count

    r = srv.post("/index/rebuild", json={})
    assert r.status_code == 200 and r.json()["action"] == "consolidated", r.text
    assert reachable(srv) == count
    own = srv.post("/search", json={"vector": record.json()["vector"], "k": 1, "ef_search": 10000}).json()["results"]
    assert own[0]["id"] == 100015

    assert srv.stop() == 0  # the rebuild was checkpointed: the repaired graph survives a restart
    again = start_server(data_dir=data, dimension=None, metric=None, index=None)
    assert reachable(again) == count


@pytest.mark.slow
@pytest.mark.parametrize("seed", [int(x) for x in __import__("os").environ.get("LYNX_REACH_SEEDS", "7").split(",")])
def test_outliers_under_churn_stay_reachable(start_server, seed):
    # The torture workload's vectors: mixed magnitudes with rare 65504 outliers, ids replaced and deleted often.
    # The level generator is seeded so the graph, and so this test, is deterministic. The repair is not a full
    # guarantee: over seeds 1-12 (LYNX_REACH_SEEDS=1,...,12), 10 ended fully reachable after the rebuild and two
    # with 1 and 2 of 227 records unreachable (seed 7, the default here, is one of those). Known gap, in the notes.
    srv = start_server(dimension=8, index="hnsw", hnsw_seed=seed)
    rng = random.Random(3)

    def component():
        r = rng.random()
        if r < 0.05:
            return 0.0
        if r < 0.08:
            return rng.choice([1e-38, -3e-39, 65504.0])
        return rng.uniform(-1, 1) * 10 ** rng.randint(-3, 3)

    for _ in range(60):
        batch = {i: [component() for _ in range(8)] for i in rng.sample(range(300), 20)}
        assert srv.post("/vectors", json={"vectors": [{"id": i, "vector": v} for i, v in batch.items()]}).status_code == 200
        for i in rng.sample(range(300), 6):
            srv.delete(f"/vectors/{i}")
    count = srv.stats()["count"]
    before = reachable(srv)
    print(f"reachable before rebuild: {before} of {count}")
    assert before >= count - 5, f"{count - before} of {count} records unreachable: far more than expected"
    assert srv.post("/index/rebuild", json={}).status_code == 200
    assert reachable(srv) >= count - 2

"""Which node the election chooses (docs/REPLICATION.md, "Choosing the leader"), with a real etcd and three real
lynxd on 127.0.0.1: a deposed leader's long tail of an older term must not outrank the frames the next term
acknowledged.
"""
from __future__ import annotations

import pytest

from cluster import make_cluster  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.live, pytest.mark.slow]

TTL = 2


def records(ids) -> dict:
    return {"vectors": [{"id": i, "vector": [float(i), 1.0, 2.0, 3.0]} for i in ids]}


def test_a_deposed_leaders_longer_tail_does_not_outrank_the_next_terms_acknowledged_writes(make_cluster):
    """Sync, one replica. The term-1 leader L appends 30 frames its paused followers never get (each write is
    refused with 503 replication-timeout: not acknowledged); then L is paused, the followers elect N (term 2) and N
    acknowledges 5 writes, durable on N and on the other follower F. N dies and L comes back: L's log is longer
    (35 frames against F's 10), but its tail is of term 1, and F holds term 2's acknowledged writes. F must lead,
    and those writes must be there. (Ranking nodes by the sum of their LSNs elected L and lost them.)"""
    c = make_cluster(3, replication="sync", sync_replicas=1, lease_ttl=TTL,
                     extra_args=("--dimension", 4, "--metric", "l2", "--index", "flat", "--sync-timeout", 0.5))
    old = c.wait_leader()
    first = old.post("/vectors?durable=true", json=records(range(1, 6)), timeout=10)
    assert first.status_code == 200, first.text
    c.wait_converged()

    # The followers are killed, not paused: a paused follower would still read, once resumed, the answer the
    # leader wrote into its socket meanwhile, and so get the tail.
    followers = c.others(old)
    for f in followers:
        f.kill()
    tail = old.post("/vectors?durable=true", json=records(range(100, 130)), timeout=10)
    assert tail.status_code == 503 and tail.json()["type"].endswith("replication-timeout"), tail.text
    old.pause()
    for f in followers:
        f.restart()

    new = c.wait_leader(timeout=3 * TTL + 10, among=followers)
    other = next(f for f in followers if f is not new)
    acked = new.post("/vectors?durable=true", json=records(range(200, 205)), timeout=10)
    assert acked.status_code == 200, acked.text

    new.kill()
    old.resume()
    winner = c.wait_leader(timeout=3 * TTL + 15, among=[old, other])
    missing = [i for i in range(200, 205) if winner.get(f"/vectors/{i}").status_code != 200]
    print(f"deposed {old.name}, term 2 leader {new.name} (killed), holder {other.name}; elected {winner.name}; "
          f"missing {missing}; {c.statuses([old, other])}")
    assert winner is other and not missing, (
        f"{winner.name} leads (the deposed leader was {old.name}, the holder of term 2's writes {other.name}); "
        f"acknowledged writes missing on it: {missing}")

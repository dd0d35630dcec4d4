"""String ids (LangChain's, often UUIDs) over Lynx's unsigned 64-bit ids, without collisions.

Each string id is kept in its record's metadata (``key``, a keyword metadata index on it), which is the only
authority on where a string lives. The u64 under which a new string is stored is chosen by hashing:
``candidate(s, 0)`` is the first 8 bytes of BLAKE2b of the string; should that id hold another record (a hash
collision, or a record written without this mapping), ``candidate(s, 1)``, ``candidate(s, 2)``, ... are tried.
Hashing rather than drawing at random makes two writers of the same new string pick the same record, so they
replace each other instead of storing it twice.

Every lookup by string asks the metadata index (a filtered search forced to the exact plan: the index's
postings, scored exactly, recall 1), so a string found once under a probed id is found there after the record
that pushed it aside is deleted.

Cost, per call (clients/python/README.md has the figures): a write of n new strings is three requests (find the strings
already stored, check that the candidate ids are free, upsert), a read or delete by strings one.
"""
from __future__ import annotations

import hashlib
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from .client import Client

MAX_PROBES = 64
LOOKUP_CHUNK = 1000  # a search's k is 1 ... 1000


def candidate(string_id: str, probe: int) -> int:
    """The ``probe``-th u64 to try for a string id."""
    data = string_id.encode("utf-8") if probe == 0 else f"{probe}\x00{string_id}".encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class StringIdMap:
    """Resolves string ids to the u64 ids of one collection's records; ``key`` is the metadata field that
    holds the string (it needs a keyword metadata index: ``ensure_index``)."""

    def __init__(self, client: Client, collection: str, key: str, dimension: int) -> None:
        self.client = client
        self.collection = collection
        self.key = key
        # Any vector will do for a lookup (the exact plan scores only the filter's matches); under cosine it
        # must not be zero.
        self._probe_vector = [1.0] + [0.0] * (dimension - 1)

    def ensure_index(self) -> None:
        self.client.create_metadata_index(self.collection, self.key, "keyword")

    def find(self, string_ids: Iterable[str], include_metadata: bool = False) -> Dict[str, "Found"]:
        """The stored records of these strings (those that have one), by string."""
        wanted = list(dict.fromkeys(string_ids))
        found: Dict[str, Found] = {}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start:start + LOOKUP_CHUNK]
            hits = self.client.search(self.collection, self._probe_vector, k=len(chunk),
                                      filter={self.key: {"$in": chunk}}, include=["metadata"], plan="exact")
            for hit in hits:
                metadata = hit.metadata or {}
                found[metadata[self.key]] = Found(hit.id, metadata if include_metadata else None)
        return found

    def place(self, string_ids: Sequence[str]) -> List[int]:
        """The u64 for each string (distinct strings): where it is stored, or a free candidate id for a new
        one. Free means no record holds it now; the upsert that follows claims it."""
        existing = self.find(string_ids)
        placed: Dict[str, int] = {s: f.id for s, f in existing.items()}
        pending: Dict[str, int] = {s: 0 for s in string_ids if s not in placed}
        taken = set(placed.values())
        while pending:
            tries = {s: candidate(s, probe) for s, probe in pending.items()}
            occupied = self._occupied(set(tries.values()))
            for s, u in tries.items():
                if u in occupied or u in taken:
                    pending[s] += 1
                    if pending[s] >= MAX_PROBES:
                        raise RuntimeError(f"no free id for {s!r} after {MAX_PROBES} probes")
                else:
                    placed[s] = u
                    taken.add(u)
                    del pending[s]
        return [placed[s] for s in string_ids]

    def _occupied(self, ids: "set[int]") -> "set[int]":
        """Those of ``ids`` that hold a record now."""
        wanted = sorted(ids)
        occupied: "set[int]" = set()
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            lookup = self.client.get_batch(self.collection, wanted[start:start + LOOKUP_CHUNK])
            occupied.update(r.id for r in lookup.records)
        return occupied


class Found:
    __slots__ = ("id", "metadata")

    def __init__(self, id: int, metadata: Optional[Mapping[str, object]]) -> None:
        self.id = id
        self.metadata = metadata

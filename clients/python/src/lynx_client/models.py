"""What the client's calls return: small dataclasses over lynxd's JSON answers (openapi/openapi.yaml).

Answers with many members that grow release by release (stats, health, replication) are returned as the dicts
lynxd sent; the records, results and acknowledgements below are the shapes code is written against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Record:
    """A stored record; ``vector`` and ``metadata`` are None when not asked for (or, metadata, absent)."""

    id: int
    vector: Optional[List[float]] = None
    metadata: Optional[Dict[str, Any]] = None

    @classmethod
    def from_json(cls, doc: Dict[str, Any]) -> "Record":
        return cls(doc["id"], doc.get("vector"), doc.get("metadata"))


@dataclass
class SearchResult:
    """One neighbour: lower ``distance`` is nearer (l2 distance, 1 - cos, or -dot)."""

    id: int
    distance: float
    metadata: Optional[Dict[str, Any]] = None
    vector: Optional[List[float]] = None

    @classmethod
    def from_json(cls, doc: Dict[str, Any]) -> "SearchResult":
        return cls(doc["id"], doc["distance"], doc.get("metadata"), doc.get("vector"))


@dataclass
class SearchPlan:
    """Which plan a filtered search ran (``explain=True``): exact, graph, scan or unfiltered."""

    kind: str
    estimated_matches: Optional[int]


class SearchResults(List[SearchResult]):
    """The results of one search, nearest first (a list), with the ``plan`` when ``explain=True``."""

    plan: Optional[SearchPlan]

    def __init__(self, results: List[SearchResult], plan: Optional[SearchPlan] = None) -> None:
        super().__init__(results)
        self.plan = plan


@dataclass
class BatchSearchResults:
    """One result list per query, in query order; ``plan`` when ``explain=True`` (one for the batch)."""

    results: List[List[SearchResult]]
    plan: Optional[SearchPlan] = None

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> List[SearchResult]:
        return self.results[i]


@dataclass
class Lookup:
    """``get_batch``: the records found, in the order asked, and the ids without one."""

    records: List[Record]
    missing: List[int]


@dataclass
class Page:
    """One page of ``list_page``; pass ``next_after`` as ``after`` for the next, None on the last page."""

    records: List[Record]
    next_after: Optional[int]


@dataclass
class WriteResult:
    """An acknowledged write: how many records it upserted or deleted, its LSN, whether it is durable yet."""

    count: int
    lsn: int
    durable: bool


@dataclass
class Collection:
    """A collection's settings and state (``count``, ``linking``, ``wal``, ``memory`` when it is ready).
    ``created`` is True when ``create_collection`` made it, False when it existed with the same settings."""

    name: str
    settings: Dict[str, Any]
    status: str
    count: Optional[int] = None
    linking: Optional[Dict[str, Any]] = None
    wal: Optional[Dict[str, Any]] = None
    memory: Optional[Dict[str, Any]] = None
    created: Optional[bool] = None

    @classmethod
    def from_json(cls, doc: Dict[str, Any], created: Optional[bool] = None) -> "Collection":
        return cls(doc["name"], doc["settings"], doc["status"], doc.get("count"), doc.get("linking"),
                   doc.get("wal"), doc.get("memory"), created)


@dataclass
class MetadataIndex:
    """A metadata index: its field (a dotted path), type and what it holds."""

    field: str
    type: str
    indexed_records: int
    distinct_values: int
    other_type_records: int

    @classmethod
    def from_json(cls, doc: Dict[str, Any]) -> "MetadataIndex":
        return cls(doc["field"], doc["type"], doc["indexed_records"], doc["distinct_values"],
                   doc["other_type_records"])


@dataclass
class MetadataIndexChange:
    """``create_metadata_index`` (``created``: False when one of that type was there) or ``drop_...``;
    ``lsn`` and ``durable`` when something was logged."""

    field: str
    created: Optional[bool] = None
    type: Optional[str] = None
    lsn: Optional[int] = None
    durable: Optional[bool] = None


@dataclass
class Backup:
    """An online backup: the store exactly at ``lsn``, as one tar archive of ``bytes`` bytes."""

    name: str
    lsn: int
    checkpoint_seq: int
    records: int
    bytes: int
    created_unix_ms: int

    @classmethod
    def from_json(cls, doc: Dict[str, Any]) -> "Backup":
        return cls(doc["name"], doc["lsn"], doc["checkpoint_seq"], doc["records"], doc["bytes"],
                   doc["created_unix_ms"])


@dataclass
class Checkpoint:
    checkpoint_seq: int
    lsn: int
    duration_seconds: float


@dataclass
class Rebuild:
    """``rebuild_index``: the index type and what it did (retrained, consolidated, none)."""

    index: str
    action: str
    duration_seconds: float


@dataclass
class Health:
    """``/health``: ``status`` ok, recovering or failed, and the whole answer in ``document``."""

    status: str
    document: Dict[str, Any] = field(default_factory=dict)

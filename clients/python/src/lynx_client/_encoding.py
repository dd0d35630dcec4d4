"""Ids, vectors and filters as lynxd's JSON wants them, from Python sequences or numpy arrays.

numpy is never imported: an array is recognised by its ``tolist`` method, which gives Python ints and floats
(a float32 element becomes the double of the same value, so lynxd stores it bit for bit).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

U64_MAX = (1 << 64) - 1
Vector = Sequence[float]  # or a 1-d numpy array
Vectors = Union[Sequence[Sequence[float]], Any]  # or a 2-d numpy array
Ids = Union[Sequence[int], Any]  # or a 1-d numpy integer array
Filter = Mapping[str, Any]


def _plain(values: Any) -> Any:
    tolist = getattr(values, "tolist", None)
    return tolist() if callable(tolist) else values


def vector_list(vector: Any) -> List[float]:
    """One vector as a list of numbers."""
    plain = _plain(vector)
    return plain if isinstance(plain, list) else list(plain)


def vectors_list(vectors: Vectors) -> List[List[float]]:
    """Several vectors (rows of a 2-d array, or a sequence of sequences) as lists of numbers."""
    plain = _plain(vectors)
    return [row if isinstance(row, list) else vector_list(row) for row in plain]


def ids_list(ids: Ids) -> List[int]:
    """Ids as Python ints (numpy integers included); anything else is a TypeError here, before sending."""
    out = []
    for i in _plain(ids):
        if isinstance(i, bool) or not isinstance(i, int):
            index = getattr(i, "__index__", None)
            if index is None:
                raise TypeError(f"a Lynx id is an unsigned 64-bit integer, not {type(i).__name__} {i!r}")
            i = index()
        out.append(i)
    return out


def records_json(ids: Ids, vectors: Vectors, metadata: Optional[Sequence[Optional[Mapping[str, Any]]]]
                 ) -> List[Dict[str, Any]]:
    """The ``vectors`` member of an upsert batch; the three sequences must have one entry per record."""
    id_values = ids_list(ids)
    rows = vectors_list(vectors)
    if len(rows) != len(id_values):
        raise ValueError(f"{len(id_values)} ids and {len(rows)} vectors: give one vector per id")
    if metadata is None:
        return [{"id": i, "vector": v} for i, v in zip(id_values, rows)]
    if len(metadata) != len(id_values):
        raise ValueError(f"{len(id_values)} ids and {len(metadata)} metadata entries: give one per id (or None)")
    return [{"id": i, "vector": v} if m is None else {"id": i, "vector": v, "metadata": m}
            for i, v, m in zip(id_values, rows, metadata)]


def include_list(include: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    if include is None:
        return None
    if isinstance(include, str):
        return [include]
    return list(include)


def filter_query(filter: Optional[Filter]) -> Optional[str]:
    """A filter as the compact JSON text of a query parameter."""
    return None if filter is None else json.dumps(filter, separators=(",", ":"), allow_nan=False)

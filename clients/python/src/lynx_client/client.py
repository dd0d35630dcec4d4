"""``Client``: every route of lynxd's HTTP API (openapi/openapi.yaml) as a method.

Collections: every data call names its collection first. ``"default"`` is the store lynxd makes from its
start-up flags and serves on the routes without a collection (``/vectors``, ``/search``, ...); any other name is
served under ``/collections/{name}/...``. The server-wide routes (health, metrics, the list of collections,
replication) take none.

Errors: a problem answer raises the ``LynxError`` subclass named after its type (lynx_client.errors); a 503
with ``Retry-After`` is sent again up to ``retries`` times, after the seconds it asks for.
"""
from __future__ import annotations

import urllib.parse
from typing import Any, BinaryIO, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from ._encoding import (Filter, Ids, Vector, Vectors, filter_query, ids_list, include_list, records_json,
                        vector_list, vectors_list)
from ._retry import RetryPolicy
from ._transport import Transport, Verify
from .models import (Backup, BatchSearchResults, Checkpoint, Collection, Health, Lookup, MetadataIndex,
                     MetadataIndexChange, Page, Rebuild, Record, SearchPlan, SearchResult, SearchResults,
                     WriteResult)

DEFAULT_COLLECTION = "default"
Include = Union[None, str, Sequence[str]]


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _durable(durable: bool) -> Optional[Dict[str, str]]:
    return {"durable": "true"} if durable else None


def _write(doc: Dict[str, Any], counted: str) -> WriteResult:
    return WriteResult(doc[counted], doc["lsn"], doc["durable"])


def _plan(doc: Dict[str, Any]) -> Optional[SearchPlan]:
    plan = doc.get("plan")
    return None if plan is None else SearchPlan(plan["kind"], plan["estimated_matches"])


class Client:
    """A client of one lynxd.

    ``url``: ``http://HOST:PORT`` or ``https://...`` (a path prefix is kept, for a proxy).
    ``api_key``: sent as ``Authorization: Bearer <key>``, or in an ``api-key`` header with
    ``api_key_header="api-key"``; lynxd accepts both (either the read-write or the read-only key).
    ``timeout``: seconds for connecting and for each read of the socket.
    ``retries``: how many times a 503 with ``Retry-After`` is sent again, waiting what it asks for, at most
    ``max_retry_delay`` seconds each time.
    ``verify``: for https, True (the system's CAs), a CA file or directory, False (no check), or an
    ``ssl.SSLContext``.

    Safe to share between threads (one kept-alive connection per thread). ``close()``, or use it as a context
    manager, to close the connections.
    """

    def __init__(self, url: str = "http://127.0.0.1:7311", api_key: Optional[str] = None, *,
                 timeout: float = 30.0, retries: int = 3, max_retry_delay: float = 30.0,
                 verify: Verify = True, api_key_header: str = "authorization") -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self._http = Transport(url, api_key=api_key, api_key_header=api_key_header, timeout=timeout,
                               retry=RetryPolicy(retries, max_retry_delay), verify=verify)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"Client({self._http.url!r})"

    @staticmethod
    def _store(collection: str) -> str:
        """The route prefix of a collection's store."""
        return "" if collection == DEFAULT_COLLECTION else "/collections/" + _quote(collection)

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self._http.request(method, path, **kw).json(f"{method} {path}")

    # ------------------------------------------------------------------ collections

    def create_collection(self, name: str, dimension: int, *, metric: Optional[str] = None,
                          index: Optional[str] = None, m: Optional[int] = None,
                          ef_construction: Optional[int] = None, n_clusters: Optional[int] = None,
                          spill: Optional[int] = None, quantization: Union[None, str, Mapping[str, Any]] = None,
                          on_disk: Optional[bool] = None) -> Collection:
        """Creates the collection (``created`` True), or finds it with the same settings (``created`` False);
        other settings raise CollectionConflictError. ``metric``: l2 (default), cosine, dot; ``index``: hnsw
        (default), flat, ivf; ``quantization``: ``"sq8"``, ``"rabitq:B"`` or the spec's object."""
        body: Dict[str, Any] = {"dimension": dimension}
        for key, value in (("metric", metric), ("index", index), ("m", m), ("ef_construction", ef_construction),
                           ("n_clusters", n_clusters), ("spill", spill), ("on_disk", on_disk)):
            if value is not None:
                body[key] = value
        if isinstance(quantization, str):
            kind, _, bits = quantization.partition(":")
            body["quantization"] = {"type": kind, "bits": int(bits)} if bits else {"type": kind}
        elif quantization is not None:
            body["quantization"] = dict(quantization)
        answer = self._http.request("PUT", "/collections/" + _quote(name), json_body=body, ok=(200, 201))
        return Collection.from_json(answer.json("PUT /collections"), created=answer.status == 201)

    def get_collection(self, name: str) -> Collection:
        return Collection.from_json(self._json("GET", "/collections/" + _quote(name)))

    def list_collections(self) -> List[Collection]:
        """Every collection, ``default`` first, with settings, status and count."""
        return [Collection.from_json(c) for c in self._json("GET", "/collections")["collections"]]

    def delete_collection(self, name: str) -> None:
        """Deletes the collection and its files (``default`` cannot be: CollectionProtectedError)."""
        self._json("DELETE", "/collections/" + _quote(name))

    # ------------------------------------------------------------------ writes

    def upsert(self, collection: str, ids: Ids, vectors: Vectors,
               metadata: Optional[Sequence[Optional[Mapping[str, Any]]]] = None, *,
               durable: bool = False) -> WriteResult:
        """Inserts or replaces the records (one request, all or nothing; at most ``--max-batch``).
        ``ids``: unsigned 64-bit ints; ``vectors``: one per id (lists or a 2-d numpy array); ``metadata``: one
        dict (or None) per id. A replaced record loses metadata it is not given. ``durable``: answered once
        fdatasync'd."""
        body = {"vectors": records_json(ids, vectors, metadata)}
        return _write(self._json("POST", self._store(collection) + "/vectors", json_body=body,
                                 query=_durable(durable)), "upserted")

    def delete(self, collection: str, ids: Optional[Ids] = None, *, filter: Optional[Filter] = None,
               durable: bool = False) -> WriteResult:
        """Deletes the records with these ids (ids without one are skipped, not counted), or every record
        that passes ``filter`` (``{}``: all); exactly one of the two. One logged transaction."""
        if (ids is None) == (filter is None):
            raise ValueError("give ids or filter, exactly one of them")
        body = {"ids": ids_list(ids)} if ids is not None else {"filter": filter}
        return _write(self._json("POST", self._store(collection) + "/vectors/delete", json_body=body,
                                 query=_durable(durable)), "deleted")

    def delete_one(self, collection: str, id: int, *, durable: bool = False) -> WriteResult:
        """Deletes one record; NotFoundError when there is none."""
        doc = self._json("DELETE", f"{self._store(collection)}/vectors/{int(id)}", query=_durable(durable))
        return WriteResult(1, doc["lsn"], doc["durable"])

    # ------------------------------------------------------------------ reads

    def get(self, collection: str, id: int) -> Record:
        """One record with its vector (bit for bit as stored) and metadata; NotFoundError when absent."""
        return Record.from_json(self._json("GET", f"{self._store(collection)}/vectors/{int(id)}"))

    def get_batch(self, collection: str, ids: Ids) -> Lookup:
        """The records of these ids that exist, in the order asked, and the ids that have none."""
        doc = self._json("POST", self._store(collection) + "/vectors/get", json_body={"ids": ids_list(ids)})
        return Lookup([Record.from_json(r) for r in doc["vectors"]], doc["missing"])

    def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        """How many records there are, or pass ``filter``."""
        body = {} if filter is None else {"filter": filter}
        return int(self._json("POST", self._store(collection) + "/count", json_body=body)["count"])

    def list_page(self, collection: str, *, after: Optional[int] = None, limit: Optional[int] = None,
                  filter: Optional[Filter] = None, include: Include = None) -> Page:
        """One page of records in id order, above ``after``. ``include``: what besides the id (``vector``,
        ``metadata``; ``[]`` for ids only; None: both)."""
        query: Dict[str, Any] = {"after": None if after is None else int(after), "limit": limit,
                                 "filter": filter_query(filter)}
        inc = include_list(include)
        if inc is not None:
            query["include"] = ",".join(inc)
        doc = self._json("GET", self._store(collection) + "/vectors", query=query)
        return Page([Record.from_json(r) for r in doc["vectors"]], doc["next_after"])

    def scroll(self, collection: str, *, filter: Optional[Filter] = None, include: Include = None,
               page_size: int = 100, after: Optional[int] = None) -> Iterator[Record]:
        """Every record (or those passing ``filter``) in id order, fetched ``page_size`` at a time. A record
        that exists throughout is yielded once; one written meanwhile is yielded when its id is above the
        cursor."""
        while True:
            page = self.list_page(collection, after=after, limit=page_size, filter=filter, include=include)
            yield from page.records
            if page.next_after is None:
                return
            after = page.next_after

    # ------------------------------------------------------------------ search

    @staticmethod
    def _search_options(k: int, filter: Optional[Filter], include: Include, options: Mapping[str, Any]
                        ) -> Dict[str, Any]:
        body: Dict[str, Any] = {"k": k}
        if filter is not None:
            body["filter"] = filter
        inc = include_list(include)
        if inc is not None:
            body["include"] = inc
        body.update((key, value) for key, value in options.items() if value is not None)
        return body

    def search(self, collection: str, vector: Vector, k: int = 10, *, filter: Optional[Filter] = None,
               include: Include = None, ef_search: Optional[int] = None, n_probe: Optional[int] = None,
               rescore: Optional[bool] = None, oversample: Optional[float] = None, explain: Optional[bool] = None,
               plan: Optional[str] = None) -> SearchResults:
        """The ``k`` nearest records, nearest first, of those passing ``filter``. ``include``: ``metadata``
        and/or ``vector``. ``explain=True`` fills ``.plan`` of the answer."""
        body = self._search_options(k, filter, include, {
            "ef_search": ef_search, "n_probe": n_probe, "rescore": rescore, "oversample": oversample,
            "explain": explain, "plan": plan})
        body["vector"] = vector_list(vector)
        doc = self._json("POST", self._store(collection) + "/search", json_body=body)
        return SearchResults([SearchResult.from_json(r) for r in doc["results"]], _plan(doc))

    def search_batch(self, collection: str, vectors: Vectors, k: int = 10, *, filter: Optional[Filter] = None,
                     include: Include = None, ef_search: Optional[int] = None, n_probe: Optional[int] = None,
                     explain: Optional[bool] = None, plan: Optional[str] = None) -> BatchSearchResults:
        """One result list per query vector, each what ``search`` answers for it with the same options."""
        body = self._search_options(k, filter, include, {
            "ef_search": ef_search, "n_probe": n_probe, "explain": explain, "plan": plan})
        body["queries"] = vectors_list(vectors)
        doc = self._json("POST", self._store(collection) + "/search/batch", json_body=body)
        return BatchSearchResults([[SearchResult.from_json(r) for r in results] for results in doc["results"]],
                                  _plan(doc))

    # ------------------------------------------------------------------ metadata indexes

    def _index_path(self, collection: str, field: Optional[str] = None) -> str:
        path = self._store(collection) + "/indexes"
        return path if field is None else path + "/" + _quote(field)

    def create_metadata_index(self, collection: str, field: str, type: str, *, durable: bool = False
                              ) -> MetadataIndexChange:
        """Indexes a metadata field (a dotted path): ``keyword``, ``integer``, ``float`` or ``bool``. The same
        type again changes nothing (``created`` False); another type raises ConflictError."""
        doc = self._json("PUT", self._index_path(collection, field), json_body={"type": type},
                         query=_durable(durable), ok=(200, 201))
        return MetadataIndexChange(doc["field"], doc["created"], doc["type"], doc.get("lsn"), doc.get("durable"))

    def get_metadata_index(self, collection: str, field: str) -> MetadataIndex:
        return MetadataIndex.from_json(self._json("GET", self._index_path(collection, field)))

    def list_metadata_indexes(self, collection: str) -> List[MetadataIndex]:
        return [MetadataIndex.from_json(i) for i in self._json("GET", self._index_path(collection))["indexes"]]

    def drop_metadata_index(self, collection: str, field: str, *, durable: bool = False) -> MetadataIndexChange:
        doc = self._json("DELETE", self._index_path(collection, field), query=_durable(durable))
        return MetadataIndexChange(doc["dropped"], lsn=doc["lsn"], durable=doc["durable"])

    # ------------------------------------------------------------------ durability and maintenance

    def flush(self, collection: str) -> int:
        """Makes every write acknowledged before the call durable; returns the durable LSN."""
        return int(self._json("POST", self._store(collection) + "/flush", has_body=True)["durable_lsn"])

    def checkpoint(self, collection: str) -> Checkpoint:
        doc = self._json("POST", self._store(collection) + "/checkpoint", has_body=True)
        return Checkpoint(doc["checkpoint_seq"], doc["lsn"], doc["duration_seconds"])

    def rebuild_index(self, collection: str) -> Rebuild:
        doc = self._json("POST", self._store(collection) + "/index/rebuild", has_body=True)
        return Rebuild(doc["index"], doc["action"], doc["duration_seconds"])

    def stats(self, collection: str) -> Dict[str, Any]:
        """Counts, dimension, metric, index parameters, memory and totals (the spec's ``Stats``)."""
        result: Dict[str, Any] = self._json("GET", self._store(collection) + "/stats")
        return result

    # ------------------------------------------------------------------ backups

    def create_backup(self, collection: str, name: Optional[str] = None, *, rotate: Optional[bool] = None
                      ) -> Backup:
        """An online backup (one archive at one LSN); without a name lynxd picks ``<UTC time>-lsn<lsn>``."""
        body: Dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if rotate is not None:
            body["rotate"] = rotate
        doc = self._json("POST", self._store(collection) + "/snapshots", json_body=body, ok=(201,))
        return Backup.from_json(doc)

    def list_backups(self, collection: str) -> List[Backup]:
        """The finished backups, oldest first."""
        return [Backup.from_json(b) for b in self._json("GET", self._store(collection) + "/snapshots")["snapshots"]]

    def download_backup(self, collection: str, name: str, destination: Union[str, BinaryIO]) -> int:
        """Writes the backup's tar archive to a path or a binary file, in chunks; returns the bytes written."""
        path = f"{self._store(collection)}/snapshots/{_quote(name)}"
        if isinstance(destination, str):
            with open(destination, "wb") as f:
                self._http.request("GET", path, sink=f)
                return f.tell()
        start = destination.tell()
        self._http.request("GET", path, sink=destination)
        return destination.tell() - start

    def delete_backup(self, collection: str, name: str) -> None:
        self._json("DELETE", f"{self._store(collection)}/snapshots/{_quote(name)}")

    # ------------------------------------------------------------------ observability (server-wide)

    def health(self) -> Health:
        """``/health``: ok (200), or recovering / failed (503, not raised: it is the health document)."""
        answer = self._http.request("GET", "/health", ok=(200, 503), retry=False)
        doc = answer.json("GET /health")
        return Health(doc["status"], doc)

    def health_live(self) -> bool:
        """True while the process serves HTTP (never needs a key)."""
        return bool(self._json("GET", "/health/live", retry=False)["status"] == "live")

    def health_ready(self) -> bool:
        """True when ready for traffic; not ready raises UnavailableError whose ``reasons`` say why."""
        return bool(self._json("GET", "/health/ready", retry=False)["status"] == "ready")

    def metrics(self) -> str:
        """The Prometheus text exposition."""
        return self._http.request("GET", "/metrics").body.decode("utf-8")

    # ------------------------------------------------------------------ replication (server-wide)

    def replication_status(self) -> Dict[str, Any]:
        """This node's role, term, leader, its stores' positions and, on a leader, its followers."""
        result: Dict[str, Any] = self._json("GET", "/replication")
        return result

    def replication_catalog(self) -> Dict[str, Any]:
        """The leader's collections and settings (NotLeaderError on a follower or a single node)."""
        result: Dict[str, Any] = self._json("GET", "/replication/catalog")
        return result

    def replication_log(self, collection: str, *, after: int, wait_ms: Optional[int] = None,
                        max_bytes: Optional[int] = None, **params: Any) -> bytes:
        """The follower protocol's binary batch of log frames after ``after`` (docs/REPLICATION.md, "Batch
        format"); ``params``: durable, last_term, term, store_id, node. Served by a leader only."""
        query = {"after": after, "wait_ms": wait_ms, "max_bytes": max_bytes, **params}
        return self._http.request("GET", self._store(collection) + "/replication/log", query=query).body

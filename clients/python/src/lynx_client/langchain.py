"""``LynxVectorStore``: a LangChain vector store on one Lynx collection (``pip install lynx-client[langchain]``).

Each document is one Lynx record: the embedding as its vector, and as its metadata
``{"doc_id": <the document's string id>, "page_content": <text>, "metadata": <the document's metadata>}``
(the three keys can be renamed). LangChain's string ids map to Lynx's u64 ids without collisions through
``lynx_client.string_ids`` (the string is the authority, held in a keyword metadata index).

Filters are Lynx filters (docs/FILTERS.md) written over the documents' own metadata: ``{"genre": "jazz",
"year": {"$gte": 1960}}``; the store adds the prefix of the metadata key to each field. The collection is the
store's own: a record written there by other means is returned as a document without id or text.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from .client import Client
from .errors import NotFoundError
from .models import SearchResult
from .string_ids import StringIdMap

VST = TypeVar("VST", bound="LynxVectorStore")
IN_LIST_LIMIT = 10000  # a filter's $in takes at most this many values
_LOGICAL = ("$and", "$or")


def prefixed_filter(filter: Mapping[str, Any], prefix: str) -> Dict[str, Any]:
    """A filter over the documents' metadata as a filter over the records' (fields under ``prefix.``)."""
    out: Dict[str, Any] = {}
    for key, value in filter.items():
        if key in _LOGICAL:
            out[key] = [prefixed_filter(part, prefix) for part in value]
        elif key == "$not":
            out[key] = prefixed_filter(value, prefix)
        else:
            out[f"{prefix}.{key}"] = value
    return out


class LynxVectorStore(VectorStore):
    """A LangChain ``VectorStore`` on the Lynx collection ``collection``.

    ``client`` (a ``lynx_client.Client``) or ``url``/``api_key`` say which lynxd. With ``create_collection``
    (default) the collection is created when missing, with ``dimension`` (default: the length of an
    embedding of a probe text), ``metric`` (default cosine) and ``index`` (default hnsw); an existing one with
    other settings raises CollectionConflictError. Writes of more than ``batch_size`` documents go as several
    upserts, each all or nothing.
    """

    def __init__(self, embedding: Embeddings, *, client: Optional[Client] = None,
                 url: str = "http://127.0.0.1:7311", api_key: Optional[str] = None, collection: str = "langchain",
                 create_collection: bool = True, dimension: Optional[int] = None, metric: str = "cosine",
                 index: str = "hnsw", id_key: str = "doc_id", text_key: str = "page_content",
                 metadata_key: str = "metadata", batch_size: int = 1000) -> None:
        self._embedding = embedding
        self.client = client if client is not None else Client(url, api_key)
        self.collection = collection
        self.id_key, self.text_key, self.metadata_key = id_key, text_key, metadata_key
        self.batch_size = batch_size
        if create_collection:
            if dimension is None:
                dimension = len(embedding.embed_query("dimension probe"))
            settings = self.client.create_collection(collection, dimension, metric=metric, index=index).settings
        else:
            settings = self.client.get_collection(collection).settings
        self.metric: str = settings["metric"]
        self.ids = StringIdMap(self.client, collection, id_key, settings["dimension"])
        try:
            self.client.get_metadata_index(collection, id_key)
        except NotFoundError:
            self.ids.ensure_index()

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    # ------------------------------------------------------------------ writes

    def add_texts(self, texts: Iterable[str], metadatas: Optional[List[Dict[str, Any]]] = None, *,
                  ids: Optional[Sequence[Optional[str]]] = None, **kwargs: Any) -> List[str]:
        """Embeds and stores the texts; a text with an id already stored replaces that document. Texts
        without an id get a new UUID. Returns the ids in order."""
        text_list = list(texts)
        if metadatas is not None and len(metadatas) != len(text_list):
            raise ValueError(f"{len(text_list)} texts and {len(metadatas)} metadatas")
        if ids is not None and len(ids) != len(text_list):
            raise ValueError(f"{len(text_list)} texts and {len(ids)} ids")
        string_ids = [i if i else str(uuid.uuid4()) for i in (ids or [None] * len(text_list))]
        # The last of a repeated id wins, as it would with one upsert after another.
        last = {s: n for n, s in enumerate(string_ids)}
        keep = sorted(last.values())
        for start in range(0, len(keep), self.batch_size):
            chunk = keep[start:start + self.batch_size]
            chunk_ids = [string_ids[n] for n in chunk]
            chunk_texts = [text_list[n] for n in chunk]
            vectors = self._embedding.embed_documents(chunk_texts)
            records_metadata = [{
                self.id_key: string_ids[n], self.text_key: text_list[n],
                self.metadata_key: dict(metadatas[n]) if metadatas is not None and metadatas[n] else {},
            } for n in chunk]
            self.client.upsert(self.collection, ids=self.ids.place(chunk_ids), vectors=vectors,
                               metadata=records_metadata)
        return string_ids

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes the documents with these ids (ids not stored are skipped); without ids, every document
        of the store."""
        if ids is None:
            self.client.delete(self.collection, filter={self.id_key: {"$exists": True}})
            return True
        for start in range(0, len(ids), IN_LIST_LIMIT):
            chunk = list(ids[start:start + IN_LIST_LIMIT])
            self.client.delete(self.collection, filter={self.id_key: {"$in": chunk}})
        return True

    # ------------------------------------------------------------------ reads

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        found = self.ids.find(ids, include_metadata=True)
        return [self._document(found[s].metadata or {}) for s in dict.fromkeys(ids) if s in found]

    def _document(self, metadata: Mapping[str, Any]) -> Document:
        return Document(id=metadata.get(self.id_key), page_content=metadata.get(self.text_key, ""),
                        metadata=dict(metadata.get(self.metadata_key) or {}))

    def _search(self, vector: List[float], k: int, filter: Optional[Mapping[str, Any]],
                include_vector: bool = False) -> List[SearchResult]:
        # The collection is the store's own: no filter but the caller's, over the documents' metadata.
        record_filter = prefixed_filter(filter, self.metadata_key) if filter else None
        include = ["metadata", "vector"] if include_vector else ["metadata"]
        return list(self.client.search(self.collection, vector, k=k, filter=record_filter, include=include))

    def similarity_search_with_score_by_vector(self, embedding: List[float], k: int = 4,
                                               filter: Optional[Mapping[str, Any]] = None,
                                               **kwargs: Any) -> List[Tuple[Document, float]]:
        """Documents nearest first, with Lynx's distance (lower is nearer)."""
        return [(self._document(hit.metadata or {}), hit.distance) for hit in self._search(embedding, k, filter)]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Optional[Mapping[str, Any]] = None,
                                     **kwargs: Any) -> List[Tuple[Document, float]]:
        return self.similarity_search_with_score_by_vector(self._embedding.embed_query(query), k, filter)

    def similarity_search_by_vector(self, embedding: List[float], k: int = 4,
                                    filter: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> List[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter)]

    def similarity_search(self, query: str, k: int = 4, filter: Optional[Mapping[str, Any]] = None,
                          **kwargs: Any) -> List[Document]:
        return self.similarity_search_by_vector(self._embedding.embed_query(query), k, filter)

    def max_marginal_relevance_search_by_vector(self, embedding: List[float], k: int = 4, fetch_k: int = 20,
                                                lambda_mult: float = 0.5,
                                                filter: Optional[Mapping[str, Any]] = None,
                                                **kwargs: Any) -> List[Document]:
        import numpy as np
        from langchain_core.vectorstores.utils import maximal_marginal_relevance

        hits = self._search(embedding, fetch_k, filter, include_vector=True)
        if not hits:
            return []
        chosen = maximal_marginal_relevance(np.array(embedding, dtype=np.float32),
                                            [hit.vector or [] for hit in hits], lambda_mult=lambda_mult, k=k)
        return [self._document(hits[i].metadata or {}) for i in chosen]

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
                                      filter: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> List[Document]:
        return self.max_marginal_relevance_search_by_vector(self._embedding.embed_query(query), k, fetch_k,
                                                            lambda_mult, filter)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return {
            "l2": self._euclidean_relevance_score_fn,
            "cosine": self._cosine_relevance_score_fn,
            "dot": self._max_inner_product_relevance_score_fn,
        }[self.metric]

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_texts(cls: Type[VST], texts: List[str], embedding: Embeddings,
                   metadatas: Optional[List[Dict[str, Any]]] = None, *, ids: Optional[List[str]] = None,
                   **kwargs: Any) -> VST:
        """A store (the constructor's keyword arguments) with these texts added."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

"""Python client for Lynx, a vector database served over HTTP.

    from lynx_client import Client
    client = Client("http://127.0.0.1:7311")
    client.create_collection("docs", dimension=4, metric="cosine")
    client.upsert("docs", ids=[1, 2], vectors=[[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]],
                  metadata=[{"lang": "en"}, {"lang": "de"}])
    for hit in client.search("docs", vector=[0.1, 0.2, 0.3, 0.4], k=2, include=["metadata"]):
        print(hit.id, hit.distance, hit.metadata)

The LangChain vector store is ``lynx_client.langchain.LynxVectorStore`` (``pip install lynx-client[langchain]``).
"""
from .client import DEFAULT_COLLECTION, Client
from .errors import *  # noqa: F401,F403  (every exception class, named after its problem type)
from .errors import PROBLEM_CLASSES, HTTPStatusError, LynxError, TransportError, UnexpectedResponseError
from .models import (Backup, BatchSearchResults, Checkpoint, Collection, Health, Lookup, MetadataIndex,
                     MetadataIndexChange, Page, Rebuild, Record, SearchPlan, SearchResult, SearchResults,
                     WriteResult)

__version__ = "0.1.0"

__all__ = [
    "Client", "DEFAULT_COLLECTION", "LynxError", "TransportError", "HTTPStatusError", "UnexpectedResponseError",
    "PROBLEM_CLASSES", "Backup", "BatchSearchResults", "Checkpoint", "Collection", "Health", "Lookup",
    "MetadataIndex", "MetadataIndexChange", "Page", "Rebuild", "Record", "SearchPlan", "SearchResult",
    "SearchResults", "WriteResult",
] + sorted(cls.__name__ for cls in PROBLEM_CLASSES.values())

"""What LynxVectorStore's string ids cost over the client's u64 ids, same documents, same run.

Per round, on a fresh pair of HNSW collections (384-d, cosine) of one lynxd, the side that goes first alternating
round by round: N documents written as one batch through the store (string ids: find the stored strings, check
the candidate ids, upsert) and through ``Client.upsert`` with u64 ids and the same metadata; once both are linked,
Q searches (k 10, metadata included) alternating query by query (medians); ``get_by_ids`` (documents without
vectors) against ``Client.get_batch`` (records with their vectors: the client has no lighter lookup by id) for
100 ids; the delete of 100 documents by string against by u64. The embeddings are made before timing (a lookup
table stands for the model), so only Lynx and the adapter are timed. Prints the medians over the rounds
(milliseconds) and the ratios store/client.

Usage: python bench/client/string_id_cost.py LYNXD [ROUNDS]   (127.0.0.1 only; every wait is bounded). Needs
numpy and langchain-core (pip install ./clients/python[langchain]).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Dict, List

import numpy as np
from langchain_core.embeddings import Embeddings

from lynx_client import Client
from lynx_client.langchain import LynxVectorStore

DIM, N, QUERIES, K, LOOKUPS = 384, 1000, 50, 10, 100


class TableEmbeddings(Embeddings):
    """Embeddings looked up from a table made beforehand."""

    def __init__(self, table: Dict[str, List[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: List[str]) -> List[List[float]]:
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> List[float]:
        return self.table[text]


def start(binary: str) -> "tuple[subprocess.Popen, str]":
    data = tempfile.mkdtemp(prefix="lynx-string-ids-")
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", data, "--dimension", "4"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "listening on " in line:
            subprocess.Popen(["cat"], stdin=proc.stderr, stdout=subprocess.DEVNULL)
            return proc, line.split("listening on ")[1].split()[0]
    proc.kill()
    raise SystemExit("lynxd did not start within 30 s")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def pair(store_first: bool, name: str, via_store, via_client) -> Dict[str, float]:
    if store_first:
        return {name + "_store": timed(via_store), name + "_client": timed(via_client)}
    client_ms = timed(via_client)
    return {name + "_store": timed(via_store), name + "_client": client_ms}


def wait_linked(client: Client, collections: List[str], timeout: float = 120.0) -> None:
    """Until HNSW has linked every record of the collections (searches then walk the graph alone)."""
    deadline = time.monotonic() + timeout
    while any(client.get_collection(c).linking["behind"] for c in collections):
        if time.monotonic() > deadline:
            raise SystemExit(f"not linked within {timeout} s")
        time.sleep(0.05)


def one_round(client: Client, r: int, rng: np.random.Generator) -> Dict[str, float]:
    texts = [f"round {r} text {i}" for i in range(N)]
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    table = {t: v.tolist() for t, v in zip(texts, vectors)}
    table["dimension probe"] = vectors[0].tolist()
    string_ids = [str(uuid.uuid4()) for _ in range(N)]
    user_metadata = [{"n": i, "source": "bench"} for i in range(N)]
    store = LynxVectorStore(TableEmbeddings(table), client=client, collection=f"s{r}", metric="cosine")
    client.create_collection(f"u{r}", DIM, metric="cosine")
    raw_metadata = [{"doc_id": s, "page_content": t, "metadata": m}
                    for s, t, m in zip(string_ids, texts, user_metadata)]
    first_store = r % 2 == 0  # which side goes first alternates by round, for each operation
    out = pair(first_store, "write",
               lambda: store.add_texts(texts, user_metadata, ids=string_ids),
               lambda: client.upsert(f"u{r}", ids=list(range(N)), vectors=vectors, metadata=raw_metadata))
    wait_linked(client, [f"s{r}", f"u{r}"])
    store_ms, client_ms = [], []
    for q in (texts[i] for i in range(0, N, N // QUERIES)):  # alternating, query by query
        store_ms.append(timed(lambda: store.similarity_search(q, k=K)))
        client_ms.append(timed(lambda: client.search(f"u{r}", table[q], k=K, include="metadata")))
    out["search_store"], out["search_client"] = statistics.median(store_ms), statistics.median(client_ms)
    wait_linked(client, [f"s{r}", f"u{r}"])
    out.update(pair(first_store, "get", lambda: store.get_by_ids(string_ids[:LOOKUPS]),
                    lambda: client.get_batch(f"u{r}", list(range(LOOKUPS)))))
    out.update(pair(first_store, "delete", lambda: store.delete(string_ids[-LOOKUPS:]),
                    lambda: client.delete(f"u{r}", ids=list(range(N - LOOKUPS, N)))))
    assert client.count(f"s{r}") == client.count(f"u{r}") == N - LOOKUPS
    client.delete_collection(f"s{r}")
    client.delete_collection(f"u{r}")
    return out


def main(argv: List[str]) -> None:
    rounds = int(argv[2]) if len(argv) > 2 else 5
    proc, url = start(argv[1])
    try:
        rng = np.random.default_rng(5)
        with Client(url) as client:
            results = [one_round(client, r, rng) for r in range(rounds)]
    finally:
        proc.terminate()
        proc.wait(30)
    medians = {key: round(statistics.median(r[key] for r in results), 2) for key in results[0]}
    print(json.dumps(medians))
    for op in ("write", "search", "get", "delete"):
        print(f"{op:>6}: store {medians[op + '_store']} ms, client {medians[op + '_client']} ms, "
              f"store/client {medians[op + '_store'] / medians[op + '_client']:.2f}")


if __name__ == "__main__":
    main(sys.argv)

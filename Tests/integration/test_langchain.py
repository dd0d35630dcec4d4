"""LangChain's standard vector store suite (langchain-tests' VectorStoreIntegrationTests) against LynxVectorStore
on a real lynxd, and what the suite does not check: string ids that collide in their first hash, filters, scores,
MMR. Every suite test that applies runs; none is skipped (clients/python/README.md, "LangChain")."""
from __future__ import annotations

import inspect
from typing import Generator

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests

from lynx_client import Client
from lynx_client.langchain import LynxVectorStore
from lynx_client.string_ids import candidate

pytestmark = [pytest.mark.live]


@pytest.fixture
def lynx(start_server) -> Generator[Client, None, None]:
    srv = start_server(dimension=6, index="hnsw")
    with Client(srv.base_url) as client:
        yield client


# The suite's async tests are coroutines; pytest-asyncio (a dependency of langchain-tests) runs them, in its
# default strict mode, when they carry its mark. They are marked where they are defined: the suite's own
# test_no_overrides_DO_NOT_OVERRIDE forbids redefining them in the subclass, and a mark on the whole class would
# be a warning on each sync test.
for _name, _test in vars(VectorStoreIntegrationTests).items():
    if _name.startswith("test_") and inspect.iscoroutinefunction(_test):
        pytest.mark.asyncio(_test)


class TestLynxVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, lynx) -> Generator[LynxVectorStore, None, None]:
        store = LynxVectorStore(self.get_embeddings(), client=lynx, collection="standard_suite")
        assert lynx.count("standard_suite") == 0
        yield store


def test_a_string_whose_first_candidate_is_taken_is_stored_under_the_next_and_found_after_the_other_goes(lynx):
    store = LynxVectorStore(VectorStoreIntegrationTests.get_embeddings(), client=lynx, collection="probing")
    # A record written without the mapping holds the first candidate of "doc-a": the same as a hash collision.
    squatter = candidate("doc-a", 0)
    lynx.upsert("probing", ids=[squatter], vectors=[[1, 0, 0, 0, 0, 0]], metadata=[{"other": True}])
    assert store.add_texts(["alpha"], ids=["doc-a"]) == ["doc-a"]
    assert lynx.get("probing", candidate("doc-a", 1)).metadata["doc_id"] == "doc-a"
    assert lynx.get("probing", squatter).metadata == {"other": True}, "the squatter was overwritten"
    lynx.delete("probing", ids=[squatter])
    # The string is found where it was put, and a new write of it replaces it there (no second copy).
    assert [d.page_content for d in store.get_by_ids(["doc-a"])] == ["alpha"]
    store.add_texts(["alpha 2"], ids=["doc-a"])
    assert lynx.count("probing") == 1
    assert lynx.get("probing", candidate("doc-a", 1)).metadata["page_content"] == "alpha 2"


def test_two_new_strings_in_one_batch_never_share_an_id(lynx):
    store = LynxVectorStore(VectorStoreIntegrationTests.get_embeddings(), client=lynx, collection="batch")
    ids = [f"id-{n}" for n in range(300)]
    store.add_texts([f"text {n}" for n in range(300)], ids=ids)
    assert lynx.count("batch") == 300
    assert sorted(d.id for d in store.get_by_ids(ids)) == sorted(ids)


def test_filters_apply_to_the_documents_metadata_and_scores_follow_the_metric(lynx):
    store = LynxVectorStore(VectorStoreIntegrationTests.get_embeddings(), client=lynx, collection="filters")
    store.add_texts(["kind of blue", "nevermind", "a love supreme"],
                    metadatas=[{"genre": "jazz", "year": 1959}, {"genre": "rock", "year": 1991},
                               {"genre": "jazz", "year": 1965}], ids=["kob", "nm", "als"])
    jazz = store.similarity_search("kind of blue", k=3, filter={"genre": "jazz"})
    assert [d.id for d in jazz] == ["kob", "als"]
    later = store.similarity_search("kind of blue", k=3, filter={"$or": [{"year": {"$gt": 1960}}, {"genre": "rock"}]})
    assert sorted(d.id for d in later) == ["als", "nm"]
    scored = store.similarity_search_with_relevance_scores("kind of blue", k=3)
    assert scored[0][0].id == "kob" and scored[0][1] == pytest.approx(1.0, abs=1e-6)  # cosine: 1 - distance
    assert all(0 <= s <= 2 for _, s in scored)
    assert [d.id for d in store.max_marginal_relevance_search("kind of blue", k=2, fetch_k=3)][0] == "kob"
    store.delete()
    assert lynx.count("filters") == 0


def test_from_texts_makes_the_collection_and_a_second_store_reads_it(lynx):
    emb = VectorStoreIntegrationTests.get_embeddings()
    LynxVectorStore.from_texts(["one", "two"], emb, ids=["1", "2"], client=lynx, collection="made", metric="l2",
                               index="flat")
    assert lynx.get_collection("made").settings["metric"] == "l2"
    again = LynxVectorStore(emb, client=lynx, collection="made", create_collection=False)
    assert again.get_by_ids(["2", "1"]) == [Document(id="2", page_content="two"), Document(id="1", page_content="one")]

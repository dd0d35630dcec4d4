"""lynx_client (clients/python) against real lynxd processes: every method, both the root store (`default`) and a
named collection, numpy input, paging over several pages, problem answers raised as the class named after their
type with their members, the retry of a real 503 with Retry-After, TLS, both key headers, and the round trip of a
search against raw HTTP (printed)."""
from __future__ import annotations

import importlib.util
import io
import re
import select
import socket
import tarfile
import threading
import time

import pytest
import yaml

import lynx_client
from lynx_client import Client
from lynx_client.errors import PROBLEM_CLASSES, class_name_for_slug
from lynx_helpers import REPO, SPEC_PATH, U64_MAX, distance, f32v
from test_tls import pki  # noqa: F401  (a fixture: a CA and a certificate for 127.0.0.1)

pytestmark = [pytest.mark.live]

VECTORS = {1: [0.1, 0.2, 0.3, 0.4], 2: [0.2, 0.1, 0.4, 0.3], 3: [0.9, 0.8, 0.7, 0.6], U64_MAX: [0.5, 0.5, 0.5, 0.5]}
METADATA = {1: {"genre": "jazz", "year": 1959}, 2: {"genre": "rock"}, 3: {"genre": "jazz"}, U64_MAX: None}


@pytest.fixture
def client(server):
    with Client(server.base_url) as c:
        yield c


@pytest.fixture(params=["default", "books"])
def store(request, client):
    """A collection of dimension 4, l2, flat: the root store or a named one, with VECTORS and METADATA."""
    if request.param != "default":
        created = client.create_collection(request.param, dimension=4, metric="l2", index="flat")
        assert created.created is True and created.settings["dimension"] == 4
    ids = list(VECTORS)
    ack = client.upsert(request.param, ids=ids, vectors=[VECTORS[i] for i in ids],
                        metadata=[METADATA[i] for i in ids])
    assert ack.count == 4 and ack.lsn >= 1 and ack.durable is False
    return request.param


def test_get_returns_each_record_bit_for_bit_and_get_batch_lists_the_missing(client, store):
    for i, vector in VECTORS.items():
        record = client.get(store, i)
        # lynxd writes the float32 in its shortest form: read as float32 again, it is the one stored
        assert (record.id, f32v(record.vector), record.metadata) == (i, f32v(vector), METADATA[i])
    lookup = client.get_batch(store, [3, 99, 1])
    assert [r.id for r in lookup.records] == [3, 1] and lookup.missing == [99]
    with pytest.raises(lynx_client.NotFoundError) as e:
        client.get(store, 99)
    assert e.value.status == 404 and "99" in e.value.detail


def test_count_delete_by_ids_filter_and_one(client, store):
    assert client.count(store) == 4
    assert client.count(store, filter={"genre": "jazz"}) == 2
    assert client.delete(store, ids=[2, 77]).count == 1  # 77 has no record: skipped, not counted
    gone = client.delete(store, filter={"genre": "jazz"}, durable=True)
    assert gone.count == 2 and gone.durable is True
    assert client.delete_one(store, U64_MAX).count == 1
    assert client.count(store) == 0
    with pytest.raises(lynx_client.NotFoundError):
        client.delete_one(store, U64_MAX)
    with pytest.raises(ValueError):
        client.delete(store)


def test_search_and_batch_search_with_filters_include_and_plan(client, store):
    query = [0.1, 0.2, 0.3, 0.4]
    hits = client.search(store, vector=query, k=3)
    assert [h.id for h in hits] == [1, 2, U64_MAX]
    for h in hits:
        assert h.distance == pytest.approx(distance("l2", query, VECTORS[h.id]), rel=1e-5, abs=1e-6)
        assert h.metadata is None and h.vector is None
    jazz = client.search(store, vector=query, k=3, filter={"genre": "jazz"}, include=["metadata", "vector"],
                         explain=True)
    assert [(h.id, h.metadata, f32v(h.vector)) for h in jazz] == [(1, METADATA[1], f32v(VECTORS[1])),
                                                            (3, METADATA[3], f32v(VECTORS[3]))]
    assert jazz.plan is not None and jazz.plan.kind == "scan"
    batch = client.search_batch(store, vectors=[query, VECTORS[3]], k=2, include="metadata")
    assert len(batch) == 2
    for q, results in zip([query, VECTORS[3]], batch.results):
        single = client.search(store, vector=q, k=2, include="metadata")
        assert [(r.id, r.distance, r.metadata) for r in results] == [(r.id, r.distance, r.metadata) for r in single]


def test_numpy_arrays_are_taken_for_ids_vectors_and_queries(client):
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((50, 4)).astype(np.float32)
    ids = np.arange(100, 150, dtype=np.uint64)
    assert client.upsert("default", ids=ids, vectors=vectors).count == 50
    assert (np.array(client.get("default", 117).vector, dtype=np.float32) == vectors[17]).all()  # bit for bit
    as_lists = client.search("default", vector=vectors[5].tolist(), k=5)
    as_array = client.search("default", vector=vectors[5], k=5)
    assert [h.id for h in as_array] == [h.id for h in as_lists] and as_array[0].id == 105
    batch = client.search_batch("default", vectors=vectors[:3], k=1)
    assert [r[0].id for r in batch.results] == [100, 101, 102]
    assert client.delete("default", ids=ids[:10]).count == 10


def test_scroll_pages_through_every_record_in_id_order(client):
    ids = list(range(1, 251))
    client.upsert("default", ids=ids, vectors=[[i, 1, 0, 0] for i in ids],
                  metadata=[{"even": i % 2 == 0} for i in ids])
    first = client.list_page("default", limit=100, include=[])
    assert [r.id for r in first.records] == ids[:100] and first.next_after == 100
    assert first.records[0].vector is None and first.records[0].metadata is None
    last = client.list_page("default", after=200, limit=100)
    assert [r.id for r in last.records] == ids[200:] and last.next_after is None
    records = list(client.scroll("default", page_size=100))  # three pages
    assert [r.id for r in records] == ids
    assert records[41].vector == [42.0, 1.0, 0.0, 0.0] and records[41].metadata == {"even": True}
    evens = list(client.scroll("default", filter={"even": True}, include="metadata", page_size=30))
    assert [r.id for r in evens] == ids[1::2] and all(r.vector is None for r in evens)


def test_collections_are_created_found_listed_and_deleted(client):
    made = client.create_collection("docs", dimension=3, metric="cosine", index="hnsw", m=8, ef_construction=50,
                                    quantization="sq8")
    assert made.created is True and made.settings["quantization"] == {"type": "sq8"} and made.settings["m"] == 8
    again = client.create_collection("docs", dimension=3, metric="cosine", m=8, ef_construction=50,
                                     quantization={"type": "sq8"})
    assert again.created is False
    with pytest.raises(lynx_client.CollectionConflictError) as e:
        client.create_collection("docs", dimension=5)
    assert e.value.status == 409 and e.value.existing["dimension"] == 3
    assert client.get_collection("docs").count == 0
    assert [c.name for c in client.list_collections()] == ["default", "docs"]
    client.upsert("docs", ids=[1], vectors=[[1, 0, 0]])
    assert client.stats("docs")["count"] == 1 and client.stats("default")["count"] == 0
    client.delete_collection("docs")
    with pytest.raises(lynx_client.CollectionNotFoundError) as e:
        client.get_collection("docs")
    assert e.value.status == 404
    with pytest.raises(lynx_client.CollectionNotFoundError):
        client.search("docs", vector=[1, 0, 0], k=1)
    with pytest.raises(lynx_client.CollectionProtectedError):
        client.delete_collection("default")
    with pytest.raises(lynx_client.InvalidCollectionNameError) as e:
        client.create_collection("no such name!", dimension=3)  # sent percent-encoded, refused by its name
    assert e.value.status == 400


def test_metadata_indexes(client, store):
    made = client.create_metadata_index(store, "genre", "keyword", durable=True)
    assert (made.field, made.type, made.created, made.durable) == ("genre", "keyword", True, True)
    assert client.create_metadata_index(store, "genre", "keyword").created is False
    with pytest.raises(lynx_client.ConflictError) as e:
        client.create_metadata_index(store, "genre", "integer")
    assert e.value.status == 409
    index = client.get_metadata_index(store, "genre")
    assert (index.indexed_records, index.distinct_values) == (3, 2)
    assert [i.field for i in client.list_metadata_indexes(store)] == ["genre"]
    assert client.search(store, vector=[0, 0, 0, 0], k=5, filter={"genre": "rock"}, explain=True).plan.kind == "exact"
    assert client.drop_metadata_index(store, "genre").field == "genre"
    with pytest.raises(lynx_client.NotFoundError):
        client.get_metadata_index(store, "genre")


def test_flush_checkpoint_rebuild_and_backups(client, store, tmp_path):
    assert client.flush(store) >= 1
    assert client.checkpoint(store).checkpoint_seq >= 1
    assert client.rebuild_index(store).action == "none"  # flat
    backup = client.create_backup(store, "nightly")
    assert (backup.name, backup.records) == ("nightly", 4)
    assert client.create_backup(store).name.endswith(f"-lsn{backup.lsn}")
    assert [b.name for b in client.list_backups(store)][0] == "nightly"
    with pytest.raises(lynx_client.ConflictError):
        client.create_backup(store, "nightly")
    path = tmp_path / "nightly.tar"
    assert client.download_backup(store, "nightly", str(path)) == backup.bytes == path.stat().st_size
    names = tarfile.open(path).getnames()
    assert names[:2] == ["BACKUP", "MANIFEST"] and names[-1] == "CHECKSUMS"
    buffer = io.BytesIO()
    assert client.download_backup(store, "nightly", buffer) == backup.bytes
    client.delete_backup(store, "nightly")
    with pytest.raises(lynx_client.NotFoundError):
        client.download_backup(store, "nightly", io.BytesIO())


def test_health_metrics_and_replication(client, store):
    health = client.health()
    assert health.status == "ok" and {"default"} <= {c["name"] for c in health.document["collections"]}
    assert client.health_live() is True and client.health_ready() is True
    metrics = client.metrics()
    assert re.search(rf'^lynx_vectors{{collection="{store}"}} 4$', metrics, re.M), metrics[:500]
    assert client.replication_status()["role"] == "single"
    with pytest.raises(lynx_client.NotLeaderError) as e:
        client.replication_catalog()
    assert e.value.status == 421
    with pytest.raises(lynx_client.NotLeaderError):
        client.replication_log(store, after=0)


def test_a_problem_answer_raises_its_class_with_every_member(client):
    with pytest.raises(lynx_client.DimensionMismatchError) as e:
        client.upsert("default", ids=[5], vectors=[[1, 2]])
    err = e.value
    assert (err.status, err.type, err.title) == (422, "urn:lynx:problem:dimension-mismatch", "Wrong vector dimension")
    assert (err.expected, err.actual, err.field) == (4, 2, "vectors[0].vector")
    assert err.detail == "vectors[0].vector: expected 4 numbers, got 2" and err.members["expected"] == 4
    assert isinstance(err, lynx_client.LynxError) and err.slug == "dimension-mismatch"
    with pytest.raises(lynx_client.OutOfRangeError) as e:
        client.search("default", vector=[1, 0, 0, 0], k=0)
    assert e.value.field == "k"
    with pytest.raises(lynx_client.DuplicateIdError):
        client.upsert("default", ids=[1, 1], vectors=[[1, 0, 0, 0], [0, 1, 0, 0]])
    with pytest.raises(lynx_client.InvalidRequestError) as e:
        client.get_batch("default", [1, 1])
    assert e.value.status == 400
    with pytest.raises(lynx_client.InvalidRequestError) as e:
        client.search("default", vector=[1, 0, 0, 0], filter={"genre": {"$bogus": 1}})
    assert e.value.field.startswith("filter.")
    with pytest.raises(AttributeError):
        err.no_such_member  # noqa: B018  (a member the answer did not carry is not made up)
    assert client.count("default") == 0, "a refused request changed something"


def test_limits_raise_with_their_limit_member(start_server):
    srv = start_server(max_collections=1, max_body_bytes=4096)
    with Client(srv.base_url) as c:
        c.create_collection("one", dimension=2)
        with pytest.raises(lynx_client.TooManyCollectionsError) as e:
            c.create_collection("two", dimension=2)
        assert e.value.limit == 1
        with pytest.raises(lynx_client.PayloadTooLargeError) as e:
            c.upsert("default", ids=list(range(200)), vectors=[[1, 2, 3, 4]] * 200)
        assert (e.value.status, e.value.limit) == (413, 4096)


def test_every_problem_type_of_the_spec_has_its_class():
    spec_text = SPEC_PATH.read_text()
    slugs = set(re.findall(r"urn:lynx:problem:([a-z]+(?:-[a-z]+)*)", spec_text))
    assert slugs and slugs == set(PROBLEM_CLASSES)
    for slug in slugs:
        assert PROBLEM_CLASSES[slug].__name__ == class_name_for_slug(slug)
        assert getattr(lynx_client, class_name_for_slug(slug)) is PROBLEM_CLASSES[slug]
    assert class_name_for_slug("dimension-mismatch") == "DimensionMismatchError"


def test_every_operation_of_the_spec_is_a_method():
    spec = yaml.safe_load(SPEC_PATH.read_text())
    operations = {op["operationId"] for item in spec["paths"].values() for m, op in item.items() if m != "parameters"}
    # Each operation of the root store has its twin under /collections/{collection}, served by the same method.
    method_for = {
        "listVectors": "list_page", "upsertVectors": "upsert", "getVector": "get", "deleteVector": "delete_one",
        "getVectors": "get_batch", "deleteVectors": "delete", "countVectors": "count", "search": "search",
        "searchBatch": "search_batch", "listMetadataIndexes": "list_metadata_indexes",
        "getMetadataIndex": "get_metadata_index", "createMetadataIndex": "create_metadata_index",
        "dropMetadataIndex": "drop_metadata_index", "flush": "flush", "checkpoint": "checkpoint",
        "rebuildIndex": "rebuild_index", "stats": "stats", "health": "health", "healthLive": "health_live",
        "healthReady": "health_ready", "metrics": "metrics", "listCollections": "list_collections",
        "createCollection": "create_collection", "getCollection": "get_collection",
        "deleteCollection": "delete_collection", "createSnapshot": "create_backup", "listSnapshots": "list_backups",
        "downloadSnapshot": "download_backup", "deleteSnapshot": "delete_backup",
        "replicationStatus": "replication_status", "replicationCatalog": "replication_catalog",
        "replicationLog": "replication_log",
    }
    twins = {op for op in operations if op.startswith("collection") and op[len("collection"):][:1].isupper()}
    for twin in twins:
        base = twin[len("collection"):]
        assert base[0].lower() + base[1:] in method_for, twin
    assert operations - twins == set(method_for)
    assert all(callable(getattr(Client, m)) for m in method_for.values())


def test_both_key_headers_and_the_read_only_key(start_server):
    srv = start_server(api_key="rw-key", read_only_api_key="ro-key")
    with Client(srv.base_url) as anonymous:
        with pytest.raises(lynx_client.UnauthorizedError) as e:
            anonymous.count("default")
        assert e.value.status == 401 and e.value.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.health_live() is True  # always open
    with Client(srv.base_url, api_key="rw-key") as bearer:
        bearer.upsert("default", ids=[1], vectors=[[1, 0, 0, 0]])
    with Client(srv.base_url, api_key="rw-key", api_key_header="api-key") as header:
        assert header.count("default") == 1
    with Client(srv.base_url, api_key="ro-key", api_key_header="api-key") as read_only:
        assert [h.id for h in read_only.search("default", vector=[1, 0, 0, 0], k=1)] == [1]
        with pytest.raises(lynx_client.ForbiddenError) as e:
            read_only.delete("default", ids=[1])
        assert e.value.status == 403
    with pytest.raises(ValueError):
        Client(srv.base_url, api_key="rw-key", api_key_header="x-api-key")


def test_tls_with_a_ca_file_without_verification_and_with_the_wrong_ca(start_server, pki):  # noqa: F811
    srv = start_server(tls_cert=pki["cert"], tls_key=pki["key"], verify=str(pki["ca"]))
    assert srv.base_url.startswith("https://")
    with Client(srv.base_url, verify=str(pki["ca"])) as verified:
        verified.upsert("default", ids=[7], vectors=[[1, 2, 3, 4]], durable=True)
        assert verified.get("default", 7).vector == [1, 2, 3, 4]
    with Client(srv.base_url, verify=False) as unverified:
        assert unverified.count("default") == 1
    with Client(srv.base_url, verify=str(pki["other_ca"])) as wrong:
        with pytest.raises(lynx_client.TransportError) as e:
            wrong.count("default")
        assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)


# Small enough to fill with one announced body, larger than /metrics' answer (read before and after).
BODY_MEMORY = 1 << 20


class HeldUpload:
    """A raw connection that announces a body and sends none: lynxd reserves its length against
    --max-body-memory until the connection goes, and answers every other request with a body 503 +
    Retry-After meanwhile. Held once lynxd has not answered it for 0.2 s: an answer still being released
    (/metrics' is over 64 KiB and counts too) can make lynxd refuse the head itself, and then it is sent again."""

    def __init__(self, port: int, length: int, timeout: float = 5.0) -> None:
        head = (b"POST /vectors HTTP/1.1\r\nHost: lynx\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % length)
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            self.sock.sendall(head)
            answered, _, _ = select.select([self.sock], [], [], 0.2)
            if not answered:
                return
            self.sock.close()
            assert time.monotonic() < deadline, "lynxd kept refusing the held upload's head"
            time.sleep(0.1)

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.sock.close)
        timer.start()
        return timer


def http_503s(client: Client, route: str) -> float:
    pattern = rf'^lynx_http_requests_total{{route="{re.escape(route)}",method="POST",code="503"}} (\S+)$'
    m = re.search(pattern, client.metrics(), re.M)
    return float(m.group(1)) if m else 0.0


def test_a_real_503_with_retry_after_is_retried_after_the_delay_it_asks(start_server):
    srv = start_server(max_body_memory=BODY_MEMORY)
    with Client(srv.base_url, retries=0) as no_retries, Client(srv.base_url, retries=3) as retrying:
        no_retries.upsert("default", ids=[1], vectors=[[1, 0, 0, 0]])
        before = http_503s(no_retries, "/search")  # read while no body is held: /metrics' answer counts too
        held = HeldUpload(srv.port, BODY_MEMORY)
        try:
            with pytest.raises(lynx_client.UnavailableError) as e:
                no_retries.search("default", vector=[1, 0, 0, 0], k=1)
            assert e.value.status == 503 and e.value.retry_after == 1.0 and e.value.limit == BODY_MEMORY
            timer = held.release_after(0.3)
            started = time.monotonic()
            hits = retrying.search("default", vector=[1, 0, 0, 0], k=1)
            elapsed = time.monotonic() - started
            timer.join()
        finally:
            held.sock.close()
        assert [h.id for h in hits] == [1]
        assert elapsed >= 1.0, f"answered after {elapsed:.2f} s: Retry-After: 1 was not waited for"
        # One 503 for the client without retries, at least one for the retrying client before its 200.
        assert http_503s(no_retries, "/search") - before >= 2


def test_retries_are_bounded(start_server):
    srv = start_server(max_body_memory=BODY_MEMORY)
    with Client(srv.base_url, retries=1) as client:
        before = http_503s(client, "/count")
        held = HeldUpload(srv.port, BODY_MEMORY)
        try:
            started = time.monotonic()
            with pytest.raises(lynx_client.UnavailableError):
                client.count("default", filter={})
            elapsed = time.monotonic() - started
        finally:
            held.sock.close()
        assert 1.0 <= elapsed < 5.0
        deadline = time.monotonic() + 5
        while True:  # the reservation goes once lynxd has seen the connection close
            try:
                refused = http_503s(client, "/count") - before
                break
            except lynx_client.UnavailableError:
                assert time.monotonic() < deadline
        assert refused == 2  # the first answer and one retry


def test_a_connection_lynxd_closed_while_idle_is_opened_again(start_server):
    srv = start_server(connection_timeout=1)
    with Client(srv.base_url) as client:
        assert client.count("default") == 0
        time.sleep(1.6)  # lynxd closes the kept-alive connection after 1 s of silence
        assert client.upsert("default", ids=[1], vectors=[[1, 0, 0, 0]]).count == 1
        assert client.count("default") == 1


def test_one_client_shared_by_threads(client):
    failures = []

    def work(t: int) -> None:
        try:
            for n in range(20):
                i = t * 100 + n
                client.upsert("default", ids=[i], vectors=[[t, n, 1, 0]], metadata=[{"thread": t}])
                assert client.get("default", i).metadata == {"thread": t}
        except Exception as e:  # noqa: BLE001  (reported below, with its thread)
            failures.append((t, e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not failures and not any(th.is_alive() for th in threads), failures
    assert client.count("default") == 160
    assert all(client.count("default", filter={"thread": t}) == 20 for t in range(8))


def test_no_server_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with Client(f"http://127.0.0.1:{port}", timeout=2) as client:
            with pytest.raises(lynx_client.TransportError) as e:
                client.health()
        assert isinstance(e.value.__cause__, ConnectionRefusedError)


def load_bench():
    path = REPO / "bench" / "client" / "search_roundtrip.py"
    spec = importlib.util.spec_from_file_location("search_roundtrip", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_round_trip_against_raw_http_is_printed(start_server, capsys):
    bench = load_bench()
    srv = start_server(dimension=bench.DIM, index="flat")
    with Client(srv.base_url) as client:
        bench.fill(client)
    figures = bench.measure(srv.base_url, seconds=3.0)
    with capsys.disabled():
        print("\n" + bench.describe(figures))
    assert figures["rounds"] >= 50
    # A bound, not a benchmark goal: the client adds little to a round trip (the figure is the point).
    assert figures["client_vs_http.client"] < 3.0, figures


def test_the_client_readme_examples_print_what_they_say(server, capsys):
    """The README's Quick start and Errors blocks, run in order against a fresh lynxd of dimension 4: each line
    they print is the comment beside its print()."""
    text = (REPO / "clients" / "python" / "README.md").read_text()
    blocks = [re.search(rf"## {title}\n.*?```python\n(.*?)```", text, re.S).group(1)
              for title in ("Quick start", "Errors")]
    source = "\n".join(blocks).replace("http://127.0.0.1:7311", server.base_url)
    expected = [line.split("#", 1)[1].strip() for line in source.splitlines() if line.strip().startswith("print(")]
    assert len(expected) == 2
    exec(compile(source, "clients/python/README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == expected


def test_the_readme_first_screen_python_example_prints_what_it_shows(server, capsys):
    """The top-level README's Python block, run against a fresh lynxd of dimension 4, prints the text block that
    follows it."""
    text = (REPO / "README.md").read_text()
    found = re.search(r"```python\n(.*?)```\n```text\n(.*?)```", text, re.S)
    assert found, "README.md has no python block followed by its output"
    source = found.group(1).replace("http://127.0.0.1:7311", server.base_url)
    exec(compile(source, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == found.group(2).strip().splitlines()

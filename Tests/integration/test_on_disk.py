"""Full vectors on disk (issue 21, item 3): a collection made with `"on_disk": true` reads its full vectors in place
from its row chunk files once a checkpoint has stored them, and maps them at recovery instead of reading them into
memory; codes, graph, ids and metadata stay in memory. Answers are the same as before the checkpoint, after a
SIGKILL and after writes into mapped chunks.
"""
from __future__ import annotations

import pytest

from test_quantization import DIM, clustered, cosine_distance, search_all
from lynx_helpers import assert_problem, run_lynxd

pytestmark = pytest.mark.live

N = 3000  # three chunks of 1,024 rows, the last one partly filled


def ingest(srv, vectors, start: int = 0) -> None:
    for at in range(0, len(vectors), 500):
        batch = [{"id": start + i, "vector": v} for i, v in enumerate(vectors[at:at + 500], at)]
        assert srv.post("/collections/q/vectors", json={"vectors": batch}).status_code == 200


def memory(srv) -> dict:
    return srv.get("/collections/q/stats").json()["memory"]


@pytest.mark.parametrize("quantization", ["none", "sq8"])
def test_vectors_on_disk_answer_as_in_memory(start_server, quantization):
    srv = start_server()
    body = {"dimension": DIM, "metric": "cosine", "quantization": {"type": quantization}, "on_disk": True}
    assert srv.request("PUT", "/collections/q", json=body).status_code == 201
    assert srv.request("PUT", "/collections/q", json=body).status_code == 200
    conflict = assert_problem(srv.request("PUT", "/collections/q", json={**body, "on_disk": False}), 409)
    assert "on_disk=true" in conflict["detail"], conflict
    assert srv.get("/collections/q").json()["settings"]["on_disk"] is True

    vectors = clustered(N, seed=11)
    ingest(srv, vectors)
    srv.wait_linked(collection="q")
    queries = clustered(20, seed=12)
    in_memory = search_all(srv, queries)
    assert memory(srv)["mapped_vector_bytes"] == 0  # nothing is stored yet
    links_on = "codes" if quantization == "sq8" else None  # the graph links on the codes once they are fitted
    assert srv.get("/collections/q/stats").json()["index"].get("links_on") == links_on

    assert srv.post("/collections/q/checkpoint", json={}).status_code == 200
    mapped = memory(srv)
    assert mapped["mapped_vector_bytes"] == N * DIM * 4, mapped
    assert mapped["vector_bytes"] <= 2 * N * 4, mapped  # only the inverse norms (cosine) stay in memory
    assert search_all(srv, queries) == in_memory
    truth = [sorted(range(N), key=lambda i: cosine_distance(q, vectors[i]))[:10] for q in queries]
    hits = sum(len(set(t) & {i for i, _ in a}) for t, a in zip(truth, in_memory))
    assert hits / (10 * len(queries)) >= 0.9, hits

    # Writes into mapped chunks: replaced records (one in each chunk) and new ones at the end.
    replaced = {5: clustered(1, seed=13)[0], 1500: clustered(1, seed=14)[0], 2999: clustered(1, seed=15)[0]}
    body = {"vectors": [{"id": i, "vector": v} for i, v in replaced.items()]}
    assert srv.post("/collections/q/vectors", json=body).status_code == 200
    extra = clustered(100, seed=16)
    ingest(srv, extra, start=N)
    srv.wait_linked(collection="q")
    for i, v in replaced.items():
        got = srv.get(f"/collections/q/vectors/{i}").json()["vector"]
        assert got == pytest.approx(v, abs=1e-6)
        top = srv.post("/collections/q/search", json={"vector": v, "k": 1}).json()["results"][0]
        assert top["id"] == i and top["distance"] == pytest.approx(0, abs=1e-5)
    assert memory(srv)["mapped_vector_bytes"] < N * DIM * 4  # the chunks written to are in memory again
    before_kill = search_all(srv, queries)

    srv.kill()
    again = start_server(data_dir=srv.data_dir)
    again.wait_linked(collection="q")
    assert "loaded snapshot without rebuilding the index" in again.log_text()
    assert again.get("/collections/q/stats").json()["index"].get("links_on") == links_on  # the manifest says so again
    assert memory(again)["mapped_vector_bytes"] > 0  # mapped by recovery, not read into memory
    assert search_all(again, queries) == before_kill
    assert again.post("/collections/q/checkpoint", json={}).status_code == 200
    stats = again.get("/collections/q/stats").json()
    # Every slot's row is mapped, those of replaced records (tombstones until consolidated) included.
    assert stats["memory"]["mapped_vector_bytes"] == stats["index"]["slots"] * DIM * 4, stats
    assert stats["index"]["slots"] >= N + 100 and stats["memory"]["vector_bytes"] <= 2 * (N + 100) * 4, stats
    assert search_all(again, queries) == before_kill
    for i, v in replaced.items():
        assert again.get(f"/collections/q/vectors/{i}").json()["vector"] == pytest.approx(v, abs=1e-6)


def test_on_disk_settings_are_checked(start_server, tmp_path):
    srv = start_server()
    for body, field in [({"dimension": 3, "index": "flat", "on_disk": True}, "on_disk"),
                        ({"dimension": 3, "index": "ivf", "on_disk": True}, "on_disk"),
                        ({"dimension": 3, "on_disk": "yes"}, "on_disk"),
                        ({"dimension": 3, "on_disk": 1}, "on_disk")]:
        problem = assert_problem(srv.request("PUT", "/collections/c", json=body), 400)
        assert problem.get("field") == field, (body, problem)
    assert srv.get("/collections/c").status_code == 404
    assert srv.request("PUT", "/collections/f", json={"dimension": 3, "index": "flat", "on_disk": False}).status_code == 201
    assert srv.get("/collections/f").json()["settings"]["on_disk"] is False

    result = run_lynxd(["--data-dir", str(tmp_path / "bad"), "--index", "flat", "--on-disk"])
    assert result.returncode != 0 and "--on-disk is for the hnsw index" in result.stderr.decode(), result.stderr
    root = start_server(data_dir=tmp_path / "root", dimension=8, index="hnsw", extra_args=["--on-disk"])
    assert root.get("/collections/default").json()["settings"]["on_disk"] is True
    assert root.stop() == 0
    plain = start_server(data_dir=tmp_path / "root", dimension=8, index="hnsw")  # the manifest keeps it
    assert plain.get("/collections/default").json()["settings"]["on_disk"] is True


def test_a_backup_restores_vectors_on_disk_and_a_damaged_file_is_refused(start_server, tmp_path):
    from test_backup import download, restore
    from test_operator_tools import check, findings

    srv = start_server(data_dir=tmp_path / "src")
    assert srv.request("PUT", "/collections/q", json={"dimension": DIM, "metric": "cosine", "on_disk": True}).status_code == 201
    ingest(srv, clustered(N, seed=21))
    srv.wait_linked(collection="q")
    assert srv.post("/collections/q/checkpoint", json={}).status_code == 200
    queries = clustered(20, seed=22)
    answers = search_all(srv, queries)
    made = srv.post("/collections/q/snapshots", json={"name": "q-1"})
    assert made.status_code == 201, made.text
    archive = download(srv, "q-1", tmp_path / "q.tar", prefix="/collections/q")
    assert srv.stop() == 0

    # The restored collection keeps on_disk, maps its vectors at recovery and answers as the source did.
    dest = tmp_path / "dest"
    done = restore(archive, dest, "--collection", "q")
    assert done.returncode == 0, done.stderr
    dst = start_server(data_dir=dest)
    assert dst.get("/collections/q").json()["settings"]["on_disk"] is True
    assert memory(dst)["mapped_vector_bytes"] == N * DIM * 4
    assert search_all(dst, queries) == answers
    assert dst.stop() == 0

    rows = sorted((srv.data_dir / "collections" / "q" / "rows").glob("*.lrows"), key=lambda p: p.stat().st_size)
    assert len(rows) == 3, rows
    damaged = rows[-1]  # a full chunk of vectors
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    rc, report = check(srv.data_dir)
    assert rc == 1 and any(damaged.name in d["file"] for d in findings(report, "damage")), report

    # Recovery maps the file, checks it, and refuses the snapshot: with no older one, lynxd stops unchanged.
    result = run_lynxd(["--data-dir", str(srv.data_dir), "--port", "0", "--host", "127.0.0.1"], timeout=30)
    text = result.stderr.decode()
    assert result.returncode != 0 and damaged.name in text and "checksum" in text, text[-2000:]

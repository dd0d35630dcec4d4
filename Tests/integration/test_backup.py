"""Online backup (POST/GET /snapshots, GET/DELETE /snapshots/{name}) and `lynxd restore` (docs/BACKUP.md).

A backup taken while a writer keeps upserting and deleting must equal the store at the backup's LSN exactly:
the test keeps a model of every acknowledged write with its LSN and replays the ones at or below it.
"""
from __future__ import annotations

import random
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from lynx_helpers import assert_problem, run_lynxd

DIM = 4


def vector(rng: random.Random) -> list[float]:
    # Quarters are exact in float32, so records compare exactly after the round trip.
    return [rng.randrange(-400, 400) / 4 for _ in range(DIM)]


class Writer(threading.Thread):
    """Upserts (batches of 1-4) and deletes on one store for a bounded time; logs each acknowledged write
    with its LSN. A write that was not acknowledged fails the test (nothing here should be refused)."""

    def __init__(self, server, prefix: str = "", seconds: float = 3.0, ids: int = 300, seed: int = 1):
        super().__init__(daemon=True)
        self.server, self.prefix, self.seconds, self.ids = server, prefix, seconds, ids
        self.rng = random.Random(seed)
        self.log: list[tuple[int, str, list]] = []  # (lsn, "upsert" | "delete", records or [id])
        self.errors: list[str] = []
        self.stop_event = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline and not self.stop_event.is_set():
            try:
                if self.rng.random() < 0.25:
                    i = self.rng.randrange(self.ids)
                    r = self.server.delete(f"{self.prefix}/vectors/{i}")
                    if r.status_code == 404:
                        continue
                    assert r.status_code == 200, r.text
                    self.log.append((r.json()["lsn"], "delete", [i]))
                else:
                    records = {}
                    for _ in range(self.rng.randrange(1, 5)):
                        i = self.rng.randrange(self.ids)
                        records[i] = {"id": i, "vector": vector(self.rng),
                                      "metadata": {"g": i % 5, "tag": f"t{self.rng.randrange(3)}"}}
                    r = self.server.post(f"{self.prefix}/vectors", json={"vectors": list(records.values())})
                    assert r.status_code == 200, r.text
                    self.log.append((r.json()["lsn"], "upsert", list(records.values())))
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return

    def state_at(self, lsn: int) -> dict[int, dict]:
        state: dict[int, dict] = {}
        for at, op, items in sorted(self.log, key=lambda e: e[0]):
            if at > lsn:
                break
            for item in items:
                if op == "delete":
                    state.pop(item, None)
                else:
                    state[item["id"]] = item
        return state


def all_records(server, prefix: str = "") -> dict[int, dict]:
    out: dict[int, dict] = {}
    after = None
    while True:
        r = server.get(f"{prefix}/vectors?limit=1000" + (f"&after={after}" if after is not None else ""))
        assert r.status_code == 200, r.text
        page = r.json()
        for rec in page["vectors"]:
            out[rec["id"]] = {"id": rec["id"], "vector": rec["vector"], "metadata": rec.get("metadata")}
        after = page["next_after"]
        if after is None:
            return out


def download(server, name: str, to: Path, prefix: str = "") -> Path:
    with server.get(f"{prefix}/snapshots/{name}", stream=True) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/x-tar"
        with open(to, "wb") as f:
            for chunk in r.iter_content(1 << 16):
                f.write(chunk)
        assert to.stat().st_size == int(r.headers["Content-Length"])
    return to


def restore(archive: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_lynxd(["restore", str(archive), "--data-dir", str(data_dir), *extra], timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("index", ["hnsw", "ivf", "flat"])
def test_backup_under_writes_restores_the_store_at_its_lsn(start_server, tmp_path, index):
    flags = {"index": index, "ivf_clusters": 4} if index == "ivf" else {"index": index}
    src = start_server(data_dir=tmp_path / "src", **flags)
    assert src.request("PUT", "/indexes/g", json={"type": "integer"}).status_code == 201
    writer = Writer(src, seconds=3.0)
    writer.start()
    backups = []
    time.sleep(0.5)
    for _ in range(3):
        r = src.post("/snapshots")
        assert r.status_code == 201, r.text
        backups.append(r.json())
        time.sleep(0.4)
    writer.join(timeout=30)
    assert not writer.is_alive() and not writer.errors, writer.errors
    assert len(writer.log) > 100, "the writer made too few writes to test anything"
    lsns = [b["lsn"] for b in backups]
    assert lsns == sorted(lsns) and len(set(lsns)) == 3, f"writes were not going on between backups: {lsns}"
    assert [b["name"] for b in src.get("/snapshots").json()["snapshots"]] == [b["name"] for b in backups]

    for i, made in enumerate(backups):
        archive = download(src, made["name"], tmp_path / f"{i}.tar")
        assert archive.stat().st_size == made["bytes"]
        names = tarfile.open(archive).getnames()
        assert names[0] == "BACKUP" and names[-1] == "CHECKSUMS" and "MANIFEST" in names, names
        dest = tmp_path / f"restored-{i}"
        done = restore(archive, dest)
        assert done.returncode == 0, done.stderr
        assert f"lsn: {made['lsn']}" in done.stdout.decode()
        dst = start_server(data_dir=dest, **flags)
        expected = writer.state_at(made["lsn"])
        assert made["records"] == len(expected)
        assert all_records(dst) == expected, f"backup {i} (lsn {made['lsn']}) differs from the store at that lsn"
        assert dst.health()["wal"]["last_lsn"] == made["lsn"]
        # The vector index and the metadata index work: an exact vector is found at distance 0, and a filtered
        # search sees exactly the records of its group.
        probe = next(iter(expected.values()))
        knobs = {"hnsw": {"ef_search": 1000}, "ivf": {"n_probe": 4}, "flat": {}}[index]
        hit = dst.post("/search", json={"vector": probe["vector"], "k": 1, **knobs})
        assert hit.status_code == 200 and hit.json()["results"][0]["distance"] == 0, hit.text
        assert [x["field"] for x in dst.get("/indexes").json()["indexes"]] == ["g"]
        group = {k for k, v in expected.items() if v["metadata"]["g"] == 2}
        found = dst.post("/search", json={"vector": probe["vector"], "k": 1000, "filter": {"g": 2}, **knobs})
        assert found.status_code == 200, found.text
        assert {x["id"] for x in found.json()["results"]} == group
        assert dst.post("/count", json={"filter": {"g": 2}}).json()["count"] == len(group)
        # The restored store takes writes after the backup's LSN.
        w = dst.post("/vectors", json={"id": 10_000, "vector": [1, 2, 3, 4]})
        assert w.status_code == 200 and w.json()["lsn"] == made["lsn"] + 1, w.text
        dst.stop()


@pytest.mark.slow
def test_collection_backup_restores_as_a_collection(start_server, tmp_path):
    src = start_server(data_dir=tmp_path / "src")
    r = src.request("PUT", "/collections/docs", json={"dimension": DIM, "metric": "cosine", "index": "hnsw"})
    assert r.status_code == 201, r.text
    writer = Writer(src, prefix="/collections/docs", seconds=1.5, seed=3)
    writer.start()
    time.sleep(0.5)
    made = src.post("/collections/docs/snapshots", json={"name": "docs-1"})
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "snapshots/docs-1"
    writer.join(timeout=30)
    assert not writer.errors, writer.errors
    assert src.get("/snapshots").json() == {"snapshots": []}, "the default collection has backups of its own"
    archive = download(src, "docs-1", tmp_path / "docs.tar", prefix="/collections/docs")
    src.stop()

    dest = tmp_path / "dest"
    done = restore(archive, dest, "--collection", "books")
    assert done.returncode == 0, done.stderr
    again = restore(archive, dest, "--collection", "books")
    assert again.returncode == 1 and b"--force" in again.stderr, again.stderr
    assert restore(archive, dest, "--collection", "books", "--force").returncode == 0
    dst = start_server(data_dir=dest)
    expected = writer.state_at(made.json()["lsn"])
    assert all_records(dst, "/collections/books") == expected
    assert dst.get("/collections/books").json()["settings"]["metric"] == "cosine"
    assert all_records(dst) == {}, "the default collection is untouched"


@pytest.mark.slow
def test_sigkill_during_backups_loses_no_write_and_lists_no_partial_backup(start_server, tmp_path):
    data = tmp_path / "data"
    rng = random.Random(5)
    srv = start_server(data_dir=data, dimension=64, keep_backups=100)
    # Enough vectors that a backup copies some megabytes, so kills land inside one.
    for start in range(0, 12_000, 2000):
        batch = [{"id": i, "vector": [((i * 7 + j) % 13) / 4 for j in range(64)]} for i in range(start, start + 2000)]
        assert srv.post("/vectors", json={"vectors": batch}).status_code == 200
    t = time.monotonic()
    assert srv.post("/snapshots").status_code == 201
    backup_seconds = time.monotonic() - t
    acknowledged: dict[int, list[float]] = {}
    killed_inside = 0
    deadline = time.monotonic() + 40
    rounds = 0
    while rounds < 8 and time.monotonic() < deadline:
        rounds += 1
        for _ in range(20):
            i = rng.randrange(100_000, 200_000)
            v = [rng.randrange(100) / 4] * 64
            r = srv.post("/vectors", json={"id": i, "vector": v})
            assert r.status_code == 200, r.text
            acknowledged[i] = v
        result: dict = {}
        poster = threading.Thread(target=lambda: result.setdefault("r", _post_quietly(srv, "/snapshots")), daemon=True)
        poster.start()
        time.sleep(rng.uniform(0, backup_seconds * 1.5))
        killed_inside += poster.is_alive()
        srv.kill()
        poster.join(timeout=10)
        srv = start_server(data_dir=data, dimension=64, keep_backups=100)
        leftovers = [p.name for p in (data / "backups").iterdir() if p.name.startswith(".")]
        assert leftovers == [], f"an interrupted backup left {leftovers}"
        listed = srv.get("/snapshots").json()["snapshots"]
        on_disk = sorted(p.name for p in (data / "backups").iterdir())
        assert sorted(b["name"] + ".tar" for b in listed) == on_disk
        for b in listed:  # every listed backup is whole
            assert (data / "backups" / (b["name"] + ".tar")).stat().st_size == b["bytes"]
        got = srv.post("/vectors/get", json={"ids": list(acknowledged)}).json()["vectors"]
        assert {x["id"]: x["vector"] for x in got} == acknowledged
    print(f"backup of 12,000 x 64-d records: {backup_seconds * 1000:.1f} ms; {killed_inside} of {rounds} SIGKILLs landed during one")
    assert killed_inside >= 2, f"only {killed_inside} of {rounds} kills landed while a backup was being made"
    newest = srv.get("/snapshots").json()["snapshots"][-1]
    archive = download(srv, newest["name"], tmp_path / "newest.tar")
    assert restore(archive, tmp_path / "check").returncode == 0


def _post_quietly(srv, path):
    try:
        return srv.post(path).status_code
    except Exception:  # noqa: BLE001 - the server was killed mid-request
        return None


def test_damaged_or_cut_archive_is_refused_without_writing(start_server, tmp_path):
    src = start_server()
    src.upsert([{"id": i, "vector": [i, 1, 2, 3], "metadata": {"n": i}} for i in range(50)])
    made = src.post("/snapshots", json={"name": "b"}).json()
    good = download(src, "b", tmp_path / "good.tar").read_bytes()
    rng = random.Random(9)
    cases = {"cut": good[: len(good) // 2], "empty": b"", "not-tar": b"hello" * 300}
    for n in range(6):
        bad = bytearray(good)
        at = rng.randrange(len(bad))
        bad[at] ^= 1 << rng.randrange(8)
        cases[f"flip-{at}"] = bytes(bad)
    for label, content in cases.items():
        archive = tmp_path / f"{label}.tar"
        archive.write_bytes(content)
        dest = tmp_path / f"dest-{label}"
        done = restore(archive, dest)
        assert done.returncode == 1, (label, done.stdout, done.stderr)
        assert b"nothing was written" in done.stderr, (label, done.stderr)
        assert not dest.exists(), f"{label}: the restore wrote {list(dest.iterdir())}"
    assert restore(tmp_path / "missing.tar", tmp_path / "d").returncode == 1
    archive = tmp_path / "good.tar"
    # Into a directory in use by a running lynxd: refused, nothing changed.
    busy = restore(archive, src.data_dir)
    assert busy.returncode == 1 and b"stop that lynxd" in busy.stderr, busy.stderr
    assert src.get("/vectors/3").status_code == 200 and src.stats()["count"] == made["records"]


def test_snapshot_names_with_path_tricks_are_refused(server):
    server.upsert({"id": 1, "vector": [1, 2, 3, 4]})
    before = sorted(p.name for p in server.data_dir.rglob("*"))
    for name in ["../x", "a/b", ".hidden", "", "x" * 65, "a b", "..", "MANIFEST.tar", "é"]:
        assert_problem(server.post("/snapshots", json={"name": name}), 400, "invalid-request")
    for body in ({"name": 5}, {"name": None}, {"other": "x"}, []):
        assert_problem(server.post("/snapshots", json=body), 400, "invalid-request")
    assert_problem(server.post_raw("/snapshots", b'{"name": "x"}', content_type="text/plain"), 415)
    for path in ["/snapshots/.staging", "/snapshots/a.tar", "/snapshots/%2e%2e", "/snapshots/%2E"]:
        for method in ("GET", "DELETE"):
            assert_problem(server.request(method, path), 400, "invalid-request")
    for path in ["/snapshots/..%2F..%2FMANIFEST", "/snapshots/a/b", "/snapshots/%2e%2e%2fMANIFEST"]:
        assert_problem(server.get(path), 404, "not-found")  # decoded to more than one segment: no such route
    assert_problem(server.get("/snapshots/nope"), 404, "not-found")
    assert_problem(server.delete("/snapshots/nope"), 404, "not-found")
    assert_problem(server.get("/collections/nope/snapshots"), 404)
    assert server.get("/snapshots").json() == {"snapshots": []}
    assert sorted(p.name for p in server.data_dir.rglob("*")) == before, "a refused request changed files"
    assert server.post("/snapshots", json={"name": "ok_1-A"}).status_code == 201
    assert_problem(server.post("/snapshots", json={"name": "ok_1-A"}), 409, "conflict")
    assert server.delete("/snapshots/ok_1-A").json() == {"deleted": "ok_1-A"}
    assert_problem(server.get("/snapshots/ok_1-A"), 404, "not-found")


def test_oldest_backups_beyond_keep_backups_are_removed(start_server):
    srv = start_server(keep_backups=2)
    names = []
    for i in range(4):
        srv.upsert({"id": i, "vector": [i, 0, 0, 0]})
        names.append(srv.post("/snapshots").json()["name"])
    assert [b["name"] for b in srv.get("/snapshots").json()["snapshots"]] == names[2:]
    assert sorted(p.name for p in (srv.data_dir / "backups").iterdir()) == sorted(n + ".tar" for n in names[2:])
    # "rotate": false removes none; the next rotating one removes down to the bound again.
    kept = srv.post("/snapshots", json={"rotate": False})
    assert kept.status_code == 201, kept.text
    assert [b["name"] for b in srv.get("/snapshots").json()["snapshots"]] == names[2:] + [kept.json()["name"]]
    assert_problem(srv.post("/snapshots", json={"rotate": "no"}), 400, "invalid-request")
    last = srv.post("/snapshots", json={"rotate": True}).json()["name"]
    assert [b["name"] for b in srv.get("/snapshots").json()["snapshots"]] == [kept.json()["name"], last]


def test_unfinished_restore_blocks_start_until_run_again(start_server, tmp_path, lynxd_bin):
    src = start_server()
    src.upsert([{"id": i, "vector": [i, 1, 1, 1]} for i in range(10)])
    src.post("/snapshots", json={"name": "b"})
    archive = download(src, "b", tmp_path / "b.tar")
    dest = tmp_path / "dest"
    assert restore(archive, dest).returncode == 0
    # What a restore killed half way leaves: its staging folder, and part of the files.
    (dest / ".restore").mkdir()
    (dest / "MANIFEST").unlink()
    start = run_lynxd(["--data-dir", str(dest), "--port", "0"], timeout=20)
    assert start.returncode != 0 and b"unfinished lynxd restore" in start.stderr, start.stderr
    assert restore(archive, dest).returncode == 0, "a second run completes an unfinished restore"
    dst = start_server(data_dir=dest)
    assert dst.stats()["count"] == 10


@pytest.mark.slow
def test_download_is_streamed_from_the_file(start_server, tmp_path):
    """The server's RSS does not grow by the archive's size while a client downloads it slowly."""
    srv = start_server(dimension=512, index="flat")
    rows = 16_000
    for start in range(0, rows, 1000):
        body = '{"vectors":[' + ",".join(
            '{"id":%d,"vector":[%s]}' % (i, ",".join(str((i + j) % 10) for j in range(512)))
            for i in range(start, start + 1000)) + "]}"
        assert srv.post_raw("/vectors", body).status_code == 200
    made = srv.post("/snapshots", json={"name": "big"}).json()
    assert made["bytes"] > rows * 512 * 4
    rss = lambda: int(next(line for line in open(f"/proc/{srv.proc.pid}/status") if line.startswith("VmRSS")).split()[1]) * 1024
    before = rss()
    peak = before
    received = 0
    with srv.get("/snapshots/big", stream=True) as r:
        assert r.status_code == 200
        for chunk in r.iter_content(1 << 20):
            received += len(chunk)
            peak = max(peak, rss())
            time.sleep(0.005)
    assert received == made["bytes"]
    print(f"archive {made['bytes'] >> 20} MiB; server RSS {before >> 20} MiB before the download, peak {peak >> 20} MiB during it")
    assert peak - before < made["bytes"] // 4, (
        f"RSS grew by {(peak - before) >> 20} MiB while sending a {made['bytes'] >> 20} MiB archive")
    head = srv.request("HEAD", "/snapshots/big")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == made["bytes"]

"""`lynxd check` and `lynxd dump-wal` on data directories written by a real lynxd and then SIGKILLed.

check must report what the restarted server's recovery then does (records, frames replayed, last LSN), name each
kind of damage and exit 1 on it (0 when healthy; a torn tail alone is healthy: recovery cuts it off without losing
a committed write), and 2 on a usage mistake. dump-wal must print exactly the frames that were written, and the
frames after a damaged one marked as not replayed. Neither may change a byte of the directory.
File layout: docs/STORAGE_FORMATS.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from crash_workload import metric
from lynx_helpers import f32, run_lynxd

pytestmark = [pytest.mark.live]

DIM = 4
HEADER = 40
FRAME_HEADER = 32


def vec(i: int) -> list[float]:
    return [f32(i * 0.25 + k) for k in range(DIM)]


def tree_hash(root: Path) -> str:
    """Every file's relative path, size and bytes, and every directory's name, in one digest."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        h.update(b"D" + os.path.relpath(dirpath, root).encode())
        for name in sorted(filenames):
            p = Path(dirpath) / name
            h.update(b"F" + os.path.relpath(p, root).encode() + p.read_bytes())
    return h.hexdigest()


def tool(*args: str) -> tuple[int, str, str]:
    r = run_lynxd(list(args), timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def check(data_dir: Path) -> tuple[int, dict]:
    """`lynxd check --json`, asserting it changed nothing."""
    before = tree_hash(data_dir)
    rc, out, err = tool("check", "--data-dir", str(data_dir), "--json")
    assert tree_hash(data_dir) == before, "lynxd check changed the data directory"
    assert rc in (0, 1), f"check exited {rc}: {err}"
    report = json.loads(out)
    assert report["healthy"] == (rc == 0), report
    return rc, report


def dump(data_dir: Path, *extra: str) -> tuple[int, list[dict]]:
    """`lynxd dump-wal --json` lines, asserting it changed nothing."""
    before = tree_hash(data_dir)
    rc, out, err = tool("dump-wal", "--data-dir", str(data_dir), "--json", *extra)
    assert tree_hash(data_dir) == before, "lynxd dump-wal changed the data directory"
    assert rc in (0, 1), f"dump-wal exited {rc}: {err}"
    return rc, [json.loads(line) for line in out.splitlines()]


def frames(lines: list[dict]) -> list[dict]:
    return [x for x in lines if x["record"] == "frame"]


def store(report: dict, name: str = "default") -> dict:
    return next(c for c in report["collections"] if c["name"] == name)


def findings(report: dict, severity: str) -> list[dict]:
    out = [f for f in report["findings"] if f["severity"] == severity]
    for c in report["collections"]:
        out += [f for f in c["findings"] if f["severity"] == severity]
    return out


class Workload:
    """Writes to `default` and to collection `books`, remembering each frame as the server acknowledged it."""

    def __init__(self, srv):
        self.srv = srv
        self.frames: dict[str, list[tuple[int, str, int | None, bool]]] = {"default": [], "books": []}
        r = srv.request("PUT", "/collections/books", json={"dimension": DIM, "metric": "l2", "index": "flat"})
        assert r.status_code in (200, 201), r.text

    def upsert(self, ids, collection="default"):
        prefix = "" if collection == "default" else f"/collections/{collection}"
        r = self.srv.post(prefix + "/vectors", json={"vectors": [{"id": i, "vector": vec(i), "metadata": {"n": i}} for i in ids]})
        assert r.status_code == 200, r.text
        last = r.json()["lsn"]
        for k, i in enumerate(ids):  # one transaction: consecutive LSNs, the commit marker on the last frame
            self.frames[collection].append((last - len(ids) + 1 + k, "upsert", i, k == len(ids) - 1))

    def delete(self, i, collection="default"):
        prefix = "" if collection == "default" else f"/collections/{collection}"
        r = self.srv.delete(f"{prefix}/vectors/{i}")
        assert r.status_code == 200, r.text
        self.frames[collection].append((r.json()["lsn"], "delete", i, True))

    def create_index(self, field):
        r = self.srv.request("PUT", f"/indexes/{field}", json={"type": "integer"})
        assert r.status_code in (200, 201), r.text
        self.frames["default"].append((self.srv.health()["wal"]["last_lsn"], "index+", None, True))


def crashed_store(start_server, checkpoint: bool) -> tuple[Path, Workload]:
    srv = start_server(checkpoint_wal_bytes=1 << 34, checkpoint_interval=86400)
    w = Workload(srv)
    for i in range(1, 11):
        w.upsert([i])
    w.upsert([11, 12, 13])
    w.upsert([100, 101], collection="books")
    if checkpoint:
        assert srv.post("/checkpoint").status_code == 200
        assert srv.post("/collections/books/checkpoint").status_code == 200
    w.delete(3)
    w.create_index("n")
    w.upsert([14, 15])
    w.upsert([102], collection="books")
    w.delete(100, collection="books")
    srv.kill()
    return srv.data_dir, w


def current_log(data_dir: Path) -> Path:
    best = max((p for p in (data_dir / "wal-0.log", data_dir / "wal-1.log") if p.exists()),
               key=lambda p: struct.unpack_from("<Q", p.read_bytes(), 8)[0])
    return best


def frame_offsets(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each frame in the file, by payload lengths (the log ends at a zero header)."""
    data = path.read_bytes()
    out, off = [], HEADER
    while off + FRAME_HEADER <= len(data):
        n = struct.unpack_from("<I", data, off)[0]
        if data[off:off + FRAME_HEADER] == bytes(FRAME_HEADER):
            break
        out.append((off, FRAME_HEADER + n))
        off += FRAME_HEADER + n
    return out


# --------------------------------------------------------------------------- healthy stores


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", [False, True], ids=["log-only", "checkpointed"])
def test_check_reports_what_recovery_then_does(start_server, checkpoint):
    data_dir, _ = crashed_store(start_server, checkpoint)
    rc, report = check(data_dir)
    assert rc == 0, report
    assert not report["lynxd_running"]
    assert [c["name"] for c in report["collections"]] == ["default", "books"]
    plans = {c["name"]: c["recovery"] for c in report["collections"]}
    if checkpoint:
        assert plans["default"]["snapshot"] == "snapshot-00000000000000000001.lsnap"
        assert plans["books"]["snapshot"] == "collections/books/snapshot-00000000000000000001.lsnap"
        assert all(s["valid"] and s["loaded_by_recovery"] for s in store(report)["snapshots"])
        assert store(report)["row_chunk_files"] >= 1 and store(report)["unreferenced_row_chunk_files"] == 0
    else:
        assert plans["default"]["snapshot"] is None and plans["default"]["replay_from_lsn"] == 1

    srv = start_server(data_dir=data_dir)
    stats = srv.stats()
    health = srv.health()
    assert plans["default"]["records"] == stats["count"] == 14  # ids 1-15, minus id 3
    assert plans["default"]["last_lsn"] == health["wal"]["last_lsn"]
    assert plans["default"]["replayed_frames"] == metric(srv, "lynx_recovery_frames_replayed")
    books = srv.get("/collections/books").json()
    assert plans["books"]["records"] == books["count"] == 2
    assert plans["books"]["last_lsn"] == books["wal"]["last_lsn"]
    assert plans["books"]["replayed_frames"] == metric(srv, "lynx_recovery_frames_replayed", collection="books")
    # Replay resumes where check said it would: the next write's LSN follows the last one.
    assert srv.post("/vectors", json={"id": 99, "vector": vec(99)}).json()["lsn"] == plans["default"]["last_lsn"] + 1


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", [False, True], ids=["log-only", "checkpointed"])
def test_dump_wal_prints_exactly_the_frames_written(start_server, checkpoint):
    data_dir, w = crashed_store(start_server, checkpoint)
    for collection in ("default", "books"):
        rc, lines = dump(data_dir, "--collection", collection)
        assert rc == 0
        got = [(f["lsn"], f["op"], f.get("id"), f["commit"]) for f in frames(lines)]
        # After one checkpoint the older generation's file still holds its frames (it is reused only at the next
        # switch), so both files together hold every frame written.
        assert got == w.frames[collection]
        assert all(f["valid"] and f["replay"] == "committed" for f in frames(lines))
        assert len([x for x in lines if x["record"] == "file"]) == (2 if checkpoint else 1)
        assert all(x["stop_reason"] == "endOfLog" for x in lines if x["record"] == "end")
    index_frame = next(f for f in frames(dump(data_dir)[1]) if f["op"] == "index+")
    assert index_frame["field"] == "n" and index_frame["type"] == "integer"
    assert all(f["op"] == "upsert" and f["dimension"] == DIM for f in frames(dump(data_dir)[1]) if f.get("id") == 14)

    from_lsn = w.frames["default"][5][0]
    _, lines = dump(data_dir, "--from-lsn", str(from_lsn))
    assert [f["lsn"] for f in frames(lines)] == [lsn for lsn, *_ in w.frames["default"] if lsn >= from_lsn]

    rc, out, _ = tool("dump-wal", "--data-dir", str(data_dir))
    assert rc == 0 and "upsert" in out and "id 14 (4-d" in out and "delete" in out and "clean end" in out


# --------------------------------------------------------------------------- damage


def damaged_copy(data_dir: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(data_dir, copy)
    return copy


@pytest.mark.slow
def test_flipped_byte_in_a_middle_frame(start_server, tmp_path):
    data_dir, w = crashed_store(start_server, checkpoint=False)
    copy = damaged_copy(data_dir, tmp_path, "flipped")
    log = copy / "wal-0.log"
    offsets = frame_offsets(log)
    victim_off, victim_len = offsets[4]                 # the frame of LSN 5 (id 5), payload byte
    with open(log, "r+b") as f:
        f.seek(victim_off + FRAME_HEADER + 2)
        b = f.read(1)
        f.seek(victim_off + FRAME_HEADER + 2)
        f.write(bytes([b[0] ^ 0x5A]))

    rc, report = check(copy)
    assert rc == 1
    damage = findings(report, "damage")
    assert any(d["file"] == "wal-0.log" and "damaged" in d["message"] for d in damage), damage
    plan = store(report)["recovery"]
    assert plan["records"] == 4 and plan["last_lsn"] == 4           # ids 1-4 before the damage
    assert plan["then"]["action"] == "fresh_log_after_damage"
    assert store(report, "books")["healthy"]

    rc, lines = dump(copy)
    assert rc == 1
    fs = frames(lines)
    stop = next(f for f in fs if f["replay"] == "stop")
    assert stop["offset"] == victim_off and stop["lsn"] == 5 and stop["problem"] == "checksumMismatch"
    after = [f for f in fs if f["replay"] == "after_stop"]
    # Every later frame is still shown, intact (its checksum chains from the one stored before it), not replayed.
    assert [f["lsn"] for f in after] == [lsn for lsn, *_ in w.frames["default"] if lsn > 5]
    assert all(f["valid"] and f["chain_checked"] for f in after)

    srv = start_server(data_dir=copy)                  # recovery does what check said
    assert srv.stats()["count"] == plan["records"]


@pytest.mark.slow
def test_torn_tail_is_healthy_and_cut_off(start_server, tmp_path):
    data_dir, w = crashed_store(start_server, checkpoint=False)
    copy = damaged_copy(data_dir, tmp_path, "torn")
    log = copy / "wal-0.log"
    last_off, last_len = frame_offsets(log)[-1]
    os.truncate(log, last_off + last_len - 3)          # the last write to default (ids 14 and 15) cut short

    rc, report = check(copy)
    assert rc == 0, findings(report, "damage")
    warnings = findings(report, "warning")
    assert any(f["file"] == "wal-0.log" and "torn tail" in f["message"] for f in warnings), warnings
    plan = store(report)["recovery"]
    # The last transaction ([14, 15]: two frames) is torn: recovery keeps everything before it.
    assert plan["last_lsn"] == w.frames["default"][-3][0]
    assert plan["ignored_tails"] and plan["ignored_tails"][0]["reason"] == "tornFrame"
    assert plan["then"] == {"action": "resume", "file": "wal-0.log", "offset": plan["ignored_tails"][0]["offset"]}

    rc, lines = dump(copy)
    assert rc == 0
    fs = frames(lines)
    assert [f["replay"] for f in fs[-2:]] == ["uncommitted", "stop"] and fs[-1]["problem"] == "tornFrame"

    srv = start_server(data_dir=copy)
    assert srv.stats()["count"] == plan["records"] == 12
    assert srv.health()["wal"]["last_lsn"] == plan["last_lsn"]


@pytest.mark.slow
def test_corrupt_snapshot_byte(start_server, tmp_path):
    data_dir, _ = crashed_store(start_server, checkpoint=True)
    copy = damaged_copy(data_dir, tmp_path, "snap")
    snap = copy / "snapshot-00000000000000000001.lsnap"
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0x01
    snap.write_bytes(bytes(data))

    rc, report = check(copy)
    assert rc == 1
    damage = findings(report, "damage")
    assert any(d["file"] == snap.name and "checksum mismatch" in d["message"] for d in damage), damage
    plan = store(report)["recovery"]
    # The older generation's file still holds everything from LSN 1: recovery starts empty and replays it all.
    assert plan["snapshot"] is None and plan["skipped_snapshots"] == [snap.name] and plan["replay_from_lsn"] == 1
    srv = start_server(data_dir=copy)
    assert srv.stats()["count"] == plan["records"] == 14


@pytest.mark.slow
def test_deleted_row_chunk_file(start_server, tmp_path):
    data_dir, _ = crashed_store(start_server, checkpoint=True)
    copy = damaged_copy(data_dir, tmp_path, "rows")
    chunk = next((copy / "rows").glob("*.lrows"))
    chunk.unlink()
    rc, report = check(copy)
    assert rc == 1
    damage = findings(report, "damage")
    assert any(d["file"] == f"rows/{chunk.name}" and "missing" in d["message"] for d in damage), damage
    snap = store(report)["snapshots"][0]
    assert not snap["valid"] and snap["damaged_row_chunk_files"] == [f"rows/{chunk.name}"]


@pytest.mark.slow
def test_garbage_manifest(start_server, tmp_path):
    data_dir, _ = crashed_store(start_server, checkpoint=False)
    copy = damaged_copy(data_dir, tmp_path, "manifest")
    (copy / "collections" / "books" / "MANIFEST").write_bytes(os.urandom(64))
    rc, report = check(copy)
    assert rc == 1
    damage = findings(report, "damage")
    assert any(d["file"] == "collections/books/MANIFEST" for d in damage), damage
    assert store(report, "books")["recovery"] is None and store(report)["healthy"]
    # The log itself is still verified without a manifest.
    assert store(report, "books")["logs"][0]["committed_frames"] > 0


# --------------------------------------------------------------------------- beside a live lynxd, usage


@pytest.mark.slow
def test_check_beside_a_running_lynxd(start_server):
    srv = start_server()
    srv.upsert([{"id": i, "vector": vec(i)} for i in range(1, 6)])
    rc, out, _ = tool("check", "--data-dir", str(srv.data_dir), "--json")
    report = json.loads(out)
    assert rc == 0 and report["lynxd_running"] and report["lynxd_pid"] == srv.proc.pid
    assert any(f["file"] == "LOCK" for f in findings(report, "warning"))
    assert store(report)["recovery"]["records"] == 5
    # The running server was not disturbed: it still takes writes, and still holds its lock.
    assert srv.post("/vectors", json={"id": 6, "vector": vec(6)}).status_code == 200
    second = run_lynxd(["--port", "0", "--data-dir", str(srv.data_dir)], timeout=15)
    assert second.returncode != 0 and b"already uses" in second.stderr


def test_usage_mistakes_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["check", "--data-dir", str(tmp_path / "missing")], ["check", "--data-dir", str(empty)],
                 ["check", "--no-such-flag"], ["dump-wal", "--data-dir", str(empty), "--collection", "nope"],
                 ["dump-wal", "--file", str(tmp_path / "missing.log")]):
        rc, _, err = tool(*args)
        assert rc == 2, (args, rc, err)
        assert err.startswith("lynxd "), err
    rc, out, _ = tool("--help")
    assert rc == 0 and "lynxd check" in out and "lynxd dump-wal" in out
    rc, out, _ = tool("check", "--help")
    assert rc == 0 and "Exit status" in out

"""On-disk damage: lynxd is SIGKILLed, its log or snapshot files are damaged, and it is restarted.

It must start (or, where nothing trustworthy is left, refuse clearly), never apply a damaged frame, keep the
committed prefix, say why in its log and in `lynx_wal_invalid_frames_total{reason}`, and take new writes
that survive another restart. File layout: docs/STORAGE_FORMATS.md (40-byte header, frames of 32-byte header + payload).
"""
from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from crash_workload import metric, parse_metrics
from lynx_helpers import f32

pytestmark = [pytest.mark.live]

DIM = 8
HEADER = 40
FRAME_HEADER = 32


def vec(i: int, version: int) -> list[float]:
    return [f32(i * 0.5 + version + k / 32) for k in range(DIM)]


def frames(path: Path) -> list[dict]:
    """The frames of a log file, by walking payload lengths from offset 40 (no validation)."""
    data = path.read_bytes()
    out, off = [], HEADER
    while off + FRAME_HEADER <= len(data):
        n, op, flags = struct.unpack_from("<IBB", data, off)
        lsn = struct.unpack_from("<Q", data, off + 8)[0]
        if n == 0 and op == 0 or off + FRAME_HEADER + n > len(data):
            break
        rid = struct.unpack_from("<Q", data, off + FRAME_HEADER)[0] if n >= 8 else None
        out.append({"offset": off, "length": FRAME_HEADER + n, "lsn": lsn, "op": op, "commit": flags & 1, "id": rid})
        off += FRAME_HEADER + n
    return out


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


def current_wal(data_dir: Path) -> Path:
    """The log file of the newest generation (by header checkpointSeq)."""
    best = None
    for name in ("wal-0.log", "wal-1.log"):
        p = data_dir / name
        if p.exists() and p.stat().st_size >= HEADER:
            seq = struct.unpack_from("<Q", p.read_bytes(), 8)[0]
            if best is None or seq > best[0]:
                best = (seq, p)
    assert best, f"no log file in {data_dir}: {os.listdir(data_dir)}"
    return best[1]


def write_singles(srv, ids, version, **kw):
    """One transaction (one frame) per id, in order; returns their LSNs."""
    lsns = []
    for i in ids:
        r = srv.post("/vectors", json={"id": i, "vector": vec(i, version), "metadata": {"v": version}}, **kw)
        assert r.status_code == 200, r.text
        lsns.append(r.json()["lsn"])
    return lsns


def has(srv, i, version) -> bool:
    r = srv.get(f"/vectors/{i}")
    if r.status_code == 404:
        return False
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f32(x) for x in body["vector"]] == vec(i, version), f"id {i}: {body} is not version {version}"
    assert body.get("metadata") == {"v": version}, f"id {i}: metadata {body.get('metadata')} is not version {version}"
    return True


def invalid_frames(srv) -> dict[str, float]:
    m = parse_metrics(srv.get("/metrics").text)
    return {dict(labels)["reason"]: v for (name, labels), v in m.items() if name == "lynx_wal_invalid_frames_total"}


def prepare(start_server, n=30, checkpoint_first=False, **flags):
    """A store with ids 1..n written one frame each (version 1), killed. Returns (data_dir, frame list)."""
    srv = start_server(dimension=DIM, **flags)
    if checkpoint_first:
        write_singles(srv, range(1000, 1010), 1)
        assert srv.post("/checkpoint").status_code == 200
    write_singles(srv, range(1, n + 1), 1)
    data_dir = srv.data_dir
    srv.kill()
    wal = current_wal(data_dir)
    fr = frames(wal)
    assert len(fr) == n, f"expected {n} frames in {wal.name}, parsed {len(fr)}"
    assert [f["id"] for f in fr] == list(range(1, n + 1))
    return data_dir, wal, fr


def restart(start_server, data_dir, **kw):
    return start_server(data_dir=data_dir, dimension=DIM, **kw)


def new_writes_survive(start_server, srv, data_dir, damaged_ids=()):
    """Writes after the damage are taken, survive a SIGKILL restart, and the damaged frames stay unapplied."""
    write_singles(srv, range(500, 520), 7)
    r = srv.post("/vectors?durable=true", json={"vectors": [{"id": 600 + k, "vector": vec(600 + k, 7), "metadata": {"v": 7}}
                                                          for k in range(5)]})
    assert r.status_code == 200, r.text
    srv.kill()
    srv2 = restart(start_server, data_dir)
    for i in list(range(500, 520)) + list(range(600, 605)):
        assert has(srv2, i, 7), f"id {i} written after the recovery from damage was lost by the next restart"
    for i in damaged_ids:
        assert not has(srv2, i, 1), f"id {i} from a frame at/after the damage was revived by a later restart"
    return srv2


@pytest.mark.slow
@pytest.mark.parametrize("where,reason", [
    ("payload", "checksumMismatch"),
    ("frame-header", "frameHeaderChecksumMismatch"),
])
def test_flipped_byte_in_the_last_frames(start_server, where, reason):
    data_dir, wal, fr = prepare(start_server)
    k = len(fr) - 3                                        # damage frame 27 of 30; 28..30 lie after it
    f = fr[k]
    offset = f["offset"] + (FRAME_HEADER + 20 if where == "payload" else 12)   # a vector byte / the lsn
    flip(wal, offset)
    srv = restart(start_server, data_dir)
    for i in range(1, k + 1):
        assert has(srv, i, 1), f"id {i} from the committed prefix before the damage is missing"
    for i in range(k + 1, len(fr) + 1):
        assert not has(srv, i, 1), f"id {i} from a frame at/after the damaged one was applied"
    assert srv.stats()["count"] == k
    assert invalid_frames(srv).get(reason) == 1, f"lynx_wal_invalid_frames_total: {invalid_frames(srv)}"
    log = srv.log_text()
    assert "the log is damaged" in log and reason in log, log[-3000:]
    # the damaged log is kept for inspection, not deleted
    kept = [p.name for p in data_dir.iterdir() if p.name.startswith(wal.name + ".broken-")]
    assert kept, f"the damaged log was not kept aside: {os.listdir(data_dir)}"
    new_writes_survive(start_server, srv, data_dir, damaged_ids=range(k + 1, len(fr) + 1))


@pytest.mark.slow
def test_flipped_byte_in_the_very_last_frame_is_a_torn_tail(start_server):
    """Damage with nothing of its generation after it cannot be told from a torn write (docs/STORAGE_FORMATS.md): the last
    frame is dropped, reported with its reason, and overwritten by the next write."""
    data_dir, wal, fr = prepare(start_server)
    flip(wal, fr[-1]["offset"] + FRAME_HEADER + 20)
    srv = restart(start_server, data_dir)
    for i in range(1, len(fr)):
        assert has(srv, i, 1)
    assert not has(srv, len(fr), 1), "the damaged last frame was applied"
    assert invalid_frames(srv).get("checksumMismatch") == 1, invalid_frames(srv)
    assert "torn or stale tail" in srv.log_text()
    new_writes_survive(start_server, srv, data_dir, damaged_ids=[len(fr)])


@pytest.mark.slow
@pytest.mark.parametrize("cut", ["in-frame-header", "in-payload"])
def test_truncated_mid_frame(start_server, cut):
    data_dir, wal, fr = prepare(start_server)
    last = fr[-1]
    size = last["offset"] + (10 if cut == "in-frame-header" else FRAME_HEADER + 7)
    os.truncate(wal, size)
    srv = restart(start_server, data_dir)
    for i in range(1, len(fr)):
        assert has(srv, i, 1)
    assert not has(srv, len(fr), 1)
    assert invalid_frames(srv).get("tornFrame") == 1, invalid_frames(srv)
    assert "torn or stale tail" in srv.log_text()
    # the torn tail is cut off at recovery (docs/STORAGE_FORMATS.md, Resume)
    assert wal.stat().st_size == last["offset"], f"torn tail not truncated: size {wal.stat().st_size}"
    srv2 = new_writes_survive(start_server, srv, data_dir, damaged_ids=[len(fr)])
    assert invalid_frames(srv2) == {}, f"a clean log after the repair still reports invalid frames: {invalid_frames(srv2)}"


@pytest.mark.slow
@pytest.mark.parametrize("sync", ["flush", "always"])
@pytest.mark.parametrize("garbage", ["random", "zeros", "short"])
def test_garbage_appended(start_server, garbage, sync):
    """Bytes right after the last frame, where the next append would go (the file continues with the writer's
    preallocated zeros in every sync mode, docs/STORAGE_FORMATS.md): zeros are the clean end of the log; a few bytes read as a
    torn frame header; random bytes as a bad frame header. None of it costs a committed frame or is damage."""
    data_dir, wal, fr = prepare(start_server, sync=sync)
    blob = {"random": os.urandom(4096), "zeros": bytes(4096), "short": os.urandom(17)}[garbage]
    end_of_log = fr[-1]["offset"] + fr[-1]["length"]
    preallocated = wal.stat().st_size > end_of_log
    assert preallocated, f"--sync {sync}: file {wal.stat().st_size} bytes, log ends at {end_of_log}: no zeros ahead"
    with open(wal, "r+b") as f:
        f.seek(end_of_log)
        f.write(blob)
    srv = restart(start_server, data_dir)
    for i in range(1, len(fr) + 1):
        assert has(srv, i, 1), f"id {i}: garbage after the log cost a committed frame"
    got = invalid_frames(srv)
    expected = {"random": {"frameHeaderChecksumMismatch": 1}, "zeros": {}, "short": {"tornFrame": 1}}[garbage]
    assert got == expected, got
    assert "the log is damaged" not in srv.log_text(), "trailing garbage was reported as damage to committed data"
    new_writes_survive(start_server, srv, data_dir)


@pytest.mark.slow
def test_damaged_frame_in_the_previous_generation(start_server):
    """Damage in the older of two live generations (a crash before the snapshot of a checkpoint was written
    is simulated by removing it): replay must stop there and not apply the newer generation on top."""
    srv = start_server(dimension=DIM)
    write_singles(srv, range(1, 21), 1)                    # gen 0
    r = srv.post("/checkpoint")                            # switch to gen 1, snapshot 1
    assert r.status_code == 200
    write_singles(srv, range(21, 41), 1)                   # gen 1
    data_dir = srv.data_dir
    srv.kill()
    # pretend snapshot 1 was never written: gen 0 (wal-0) and gen 1 (wal-1) are both needed
    for p in data_dir.glob("snapshot-*.lsnap"):
        p.unlink()
    wal0 = data_dir / "wal-0.log"
    fr = frames(wal0)
    assert len(fr) == 20
    flip(wal0, fr[10]["offset"] + FRAME_HEADER + 20)       # damage frame 11 of gen 0
    srv = restart(start_server, data_dir)
    for i in range(1, 11):
        assert has(srv, i, 1)
    for i in range(11, 41):
        assert not has(srv, i, 1), f"id {i} lies after the damage (gen 0) or in the next generation and was applied"
    assert invalid_frames(srv).get("checksumMismatch") == 1, invalid_frames(srv)
    new_writes_survive(start_server, srv, data_dir, damaged_ids=range(11, 41))


# --------------------------------------------------------------------------- snapshots

def checkpointed_store(start_server, checkpoints: int):
    """ids 1..20 v1, checkpoint, ids 21..40 v1, checkpoint (...), then ids 41..50 v1 in the live log."""
    srv = start_server(dimension=DIM)
    kept = {}
    for c in range(checkpoints):
        write_singles(srv, range(1 + 20 * c, 21 + 20 * c), 1)
        r = srv.post("/checkpoint")
        assert r.status_code == 200
        for p in list(srv.data_dir.glob("snapshot-*.lsnap")) + list(srv.data_dir.glob("rows/*.lrows")):
            kept[str(p.relative_to(srv.data_dir))] = p.read_bytes()
    write_singles(srv, range(41, 51), 1)
    data_dir = srv.data_dir
    srv.kill()
    snaps = sorted(data_dir.glob("snapshot-*.lsnap"))
    assert len(snaps) == 1, f"lynxd keeps only the newest snapshot, found {snaps}"
    return data_dir, snaps[0], kept


@pytest.mark.slow
def test_corrupt_newest_snapshot_falls_back_to_older_one(start_server):
    data_dir, newest, kept = checkpointed_store(start_server, 2)
    # A crash between writing snapshot 2 and deleting snapshot 1 leaves both, and the row chunk files only
    # snapshot 1 refers to (they are removed after it); put them back.
    older = [n for n in kept if n.startswith("snapshot-") and n != newest.name]
    assert older, kept
    (data_dir / older[0]).write_bytes(kept[older[0]])
    for name, content in kept.items():
        if name.startswith("rows/") and not (data_dir / name).exists():
            (data_dir / name).write_bytes(content)
    flip(newest, newest.stat().st_size // 2)
    srv = restart(start_server, data_dir)
    for i in range(1, 51):
        assert has(srv, i, 1), f"id {i} lost although the older snapshot and both log generations cover it"
    assert srv.stats()["count"] == 50
    assert "a snapshot is damaged" in srv.log_text()
    new_writes_survive(start_server, srv, data_dir)


@pytest.mark.slow
def test_corrupt_only_snapshot_after_one_checkpoint_recovers_from_log(start_server):
    """After a single checkpoint the first generation's log still holds everything from LSN 1."""
    data_dir, newest, _ = checkpointed_store(start_server, 1)
    flip(newest, newest.stat().st_size // 2)
    srv = restart(start_server, data_dir)
    for i in list(range(1, 21)) + list(range(41, 51)):
        assert has(srv, i, 1), f"id {i} lost"
    assert srv.stats()["count"] == 30
    new_writes_survive(start_server, srv, data_dir)


def test_damaged_only_snapshot_is_reported(start_server):
    data_dir, newest, _ = checkpointed_store(start_server, 1)
    flip(newest, newest.stat().st_size // 2)
    srv = restart(start_server, data_dir)
    log = srv.log_text().split("lynxd: listening", 1)[-1]
    assert "snapshot" in log and newest.name in log, f"no word about the damaged {newest.name}:\n{log[-2000:]}"


@pytest.mark.slow
def test_corrupt_only_snapshot_with_no_fallback_is_refused_not_emptied(start_server):
    data_dir, newest, _ = checkpointed_store(start_server, 2)
    damaged = newest.read_bytes()
    flip(newest, newest.stat().st_size // 2)
    srv = start_server(data_dir=data_dir, dimension=DIM, wait=False)
    srv.wait_listening()
    deadline = time.monotonic() + 20
    state = None
    while time.monotonic() < deadline and state is None:
        if not srv.running():
            state = "exited"
            break
        try:
            r = srv.get("/health", timeout=2)
            if r.status_code == 200:
                state = "ok"
            elif r.json().get("status") == "failed":
                state = "failed"
        except Exception:
            pass
        time.sleep(0.05)
    log = srv.log_text()
    if state == "ok":
        count = srv.stats()["count"]
        srv.kill()  # (a SIGTERM stop would wait out the drain of idle keep-alive connections)
        left = sorted(p.name for p in data_dir.iterdir())
        pytest.fail(f"lynxd started with {count} of 50 acknowledged vectors after its only snapshot "
                    f"was damaged; data dir now {left}; damaged snapshot kept: "
                    f"{any(p.read_bytes() == bytes(damaged) for p in data_dir.glob('*.lsnap*'))}\n{log[-3000:]}")
    assert state in ("failed", "exited"), f"no answer from lynxd: {log[-2000:]}"
    assert "snapshot" in log, f"the refusal does not name the damaged snapshot:\n{log[-2000:]}"
    assert newest.exists(), "the damaged snapshot was deleted"


@pytest.mark.slow
def test_damaged_log_header_is_not_silently_discarded(start_server):
    data_dir, wal, fr = prepare(start_server)
    size = wal.stat().st_size
    flip(wal, 17)                                          # salt1 byte: header checksum no longer matches
    srv = start_server(data_dir=data_dir, dimension=DIM, wait=False)
    srv.wait_listening()
    deadline = time.monotonic() + 20
    ok = False
    while time.monotonic() < deadline and srv.running():
        try:
            r = srv.get("/health", timeout=2)
            if r.status_code == 200:
                ok = True
                break
            if r.json().get("status") == "failed":
                break
        except Exception:
            pass
        time.sleep(0.05)
    if ok:
        count = srv.stats()["count"]
        frames_reported = invalid_frames(srv)
        kept = [p for p in data_dir.iterdir() if p.stat().st_size == size]
        srv.kill()
        assert count == len(fr) or (frames_reported.get("badHeader") and kept), (
            f"lynxd came up with {count} of {len(fr)} acknowledged vectors, invalid-frame metrics "
            f"{frames_reported}, files {[(p.name, p.stat().st_size) for p in data_dir.iterdir()]}\n"
            f"{srv.log_text()[-2500:]}")
    else:
        # Refused: it must say which file and why, and leave the evidence untouched.
        if srv.running():
            srv.kill()
        log = srv.log_text()
        assert wal.name in log and "damaged header" in log, log[-2500:]
        assert wal.exists() and wal.stat().st_size == size, "the damaged log was changed"

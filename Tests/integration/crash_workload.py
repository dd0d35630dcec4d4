"""Kill/restart workload for lynxd: concurrent writers, a SIGKILL at a random moment, an exact check.

Used by test_crash_recovery.py (a few dozen cycles) and scripts/torture.sh (hundreds), which runs
`python Tests/integration/crash_workload.py --cycles N`.

The model (Jepsen-style, but with the server's LSNs as the order of acknowledged writes):

* Every operation carries unique content: an upsert's metadata holds a fresh `op` tag, so a record read
  back names the one operation that wrote it.
* Each writer thread owns a disjoint range of ids and issues its operations one after another, so for an
  owned id the history is a sequence and at most one operation on it is in flight when lynxd dies.
  Batches (2..20 records) only use owned ids: an unacknowledged batch must then be all there or not at all.
* A small shared range of ids is written by every thread (single upserts and deletes), so acknowledged
  writes of one id race between threads; they are ordered by the LSN in their acknowledgement.
* Expected state of an id after a crash: the content of its acknowledged operation with the highest LSN
  (absent for a delete, or for none), or the content of any operation on it still in flight at the kill.
  Whatever is observed becomes the known state for the next cycle.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lynx_helpers import LynxServer, TimeoutSession, lynxd_path  # noqa: E402

ABSENT = None  # the "content" of a deleted / never-written id


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(v: list[float]) -> tuple[int, ...]:
    return tuple(struct.unpack("<I", struct.pack("<f", x))[0] for x in v)


@dataclass(frozen=True)
class Content:
    """What one upsert wrote to one id: exact float32 bit patterns and the metadata (or None)."""
    op: str
    bits: tuple[int, ...]
    metadata_json: str | None  # canonical JSON (sort_keys) of the metadata, None when absent

    @staticmethod
    def of(op: str, vector: list[float], metadata: dict | None) -> "Content":
        return Content(op, f32_bits(vector), None if metadata is None else json.dumps(metadata, sort_keys=True))

    @staticmethod
    def observed(record: dict) -> "Content":
        md = record.get("metadata")
        return Content(md.get("op", "?") if isinstance(md, dict) else "?", f32_bits(record["vector"]),
                       None if md is None else json.dumps(md, sort_keys=True))

    def same_data(self, other: "Content") -> bool:
        return self.bits == other.bits and self.metadata_json == other.metadata_json


@dataclass
class Op:
    kind: str                      # "upsert" | "batch" | "delete"
    ids: list[int]
    contents: dict[int, Content | None]  # id -> what it sets (None = delete)
    durable: bool
    tag: str
    lsn: int | None = None         # set on acknowledgement


@dataclass
class CycleStats:
    acked: int = 0
    acked_durable: int = 0
    inflight: int = 0
    inflight_landed: int = 0
    batches_inflight: int = 0
    deletes_404: int = 0
    checkpoints: int = 0
    killed_during_checkpoint: bool = False
    max_lsn: int = 0


class Model:
    """The known state of every id, carried from cycle to cycle."""

    def __init__(self, dimension: int, threads: int, owned_per_thread: int, shared: int):
        self.dimension = dimension
        self.threads = threads
        self.owned_per_thread = owned_per_thread
        self.shared_ids = list(range(100_000, 100_000 + shared))
        self.known: dict[int, Content | None] = {}
        self.max_acked_lsn = 0

    def owned(self, t: int) -> list[int]:
        base = 1 + t * 10_000
        return list(range(base, base + self.owned_per_thread))

    def universe(self) -> list[int]:
        ids = list(self.shared_ids)
        for t in range(self.threads):
            ids += self.owned(t)
        return ids


class CycleLog:
    """Thread-safe record of what was acknowledged and what is in flight during one cycle."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked: list[Op] = []
        self.inflight: dict[str, Op] = {}
        self.errors: list[str] = []
        self.stats = CycleStats()

    def start(self, op: Op) -> None:
        with self.lock:
            self.inflight[op.tag] = op

    def ack(self, op: Op, lsn: int) -> None:
        with self.lock:
            op.lsn = lsn
            self.inflight.pop(op.tag, None)
            self.acked.append(op)
            self.stats.acked += 1
            self.stats.acked_durable += op.durable
            self.stats.max_lsn = max(self.stats.max_lsn, lsn)

    def nothing_applied(self, op: Op) -> None:
        with self.lock:
            self.inflight.pop(op.tag, None)

    def error(self, msg: str) -> None:
        with self.lock:
            self.errors.append(msg)


def random_vector(rng: random.Random, dimension: int) -> list[float]:
    # float32 values of varied magnitude and sign, plus the odd exact zero and a subnormal-ish value.
    v = []
    for _ in range(dimension):
        r = rng.random()
        if r < 0.05:
            v.append(0.0)
        elif r < 0.08:
            v.append(f32(rng.choice([1e-38, -3e-39, 65504.0])))
        else:
            v.append(f32(rng.uniform(-1, 1) * 10 ** rng.randint(-3, 3)))
    if not any(v):
        v[0] = 1.0
    return v


def random_metadata(rng: random.Random, tag: str) -> dict | None:
    if rng.random() < 0.1:
        return None  # no metadata: an op still identifies itself by its vector bits
    md: dict[str, Any] = {"op": tag, "n": rng.randint(-2**53, 2**53), "ok": rng.random() < 0.5}
    if rng.random() < 0.5:
        md["tags"] = [rng.choice(["a", "b", "ü", "日本", "\"q\"", "back\\slash"]) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        md["nested"] = {"x": None, "y": {"z": [1, 2, {"w": "v"}]}, "half": 0.5}
    return md


class Writer(threading.Thread):
    """One writer: owned ids sequentially, plus shared ids; stops at `stop` or at the first dead connection."""

    def __init__(self, srv: LynxServer, model: Model, log: CycleLog, t: int, seed: int, stop: threading.Event,
                 cycle: int, durable_fraction: float, sync_always: bool = False, batch_max: int = 20):
        super().__init__(daemon=True, name=f"writer-{t}")
        self.base = srv.base_url
        self.model = model
        self.log = log
        self.t = t
        self.rng = random.Random(seed)
        self.stop = stop
        self.cycle = cycle
        self.durable_fraction = durable_fraction
        self.sync_always = sync_always
        self.batch_max = batch_max
        self.session = TimeoutSession()
        self.n = 0
        # this thread's belief about its owned ids (presence only; exact content is checked later)
        self.present = {i for i in model.owned(t) if model.known.get(i) is not None}

    def make_op(self) -> Op:
        rng = self.rng
        self.n += 1
        tag = f"c{self.cycle}-t{self.t}-{self.n}"
        durable = rng.random() < self.durable_fraction
        owned = self.model.owned(self.t)
        r = rng.random()
        if r < 0.35:
            pool = owned if rng.random() < 0.7 else self.model.shared_ids
            i = rng.choice(pool)
            vec = random_vector(rng, self.model.dimension)
            md = random_metadata(rng, tag)
            return Op("upsert", [i], {i: Content.of(tag, vec, md)}, durable, tag)
        if r < 0.8:
            ids = rng.sample(owned, rng.randint(2, min(self.batch_max, len(owned))))
            contents = {}
            for k, i in enumerate(ids):
                contents[i] = Content.of(f"{tag}.{k}", random_vector(rng, self.model.dimension),
                                         random_metadata(rng, f"{tag}.{k}"))
            return Op("batch", ids, contents, durable, tag)
        if self.present and rng.random() < 0.75:
            i = rng.choice(sorted(self.present))
        else:
            i = rng.choice(self.model.shared_ids + owned)
        return Op("delete", [i], {i: None}, durable, tag)

    def body(self, op: Op) -> dict:
        def rec(i):
            c = op.contents[i]
            d = {"id": i, "vector": [struct.unpack("<f", struct.pack("<I", b))[0] for b in c.bits]}
            if c.metadata_json is not None:
                d["metadata"] = json.loads(c.metadata_json)
            return d
        if op.kind == "upsert":
            return rec(op.ids[0])
        return {"vectors": [rec(i) for i in op.ids]}

    def run(self) -> None:
        while not self.stop.is_set():
            op = self.make_op()
            suffix = "?durable=true" if op.durable else ""
            self.log.start(op)
            try:
                if op.kind == "delete":
                    r = self.session.delete(f"{self.base}/vectors/{op.ids[0]}{suffix}")
                else:
                    r = self.session.post(f"{self.base}/vectors{suffix}", json=self.body(op))
            except requests.RequestException:
                # connection refused/reset: lynxd died; the op stays in flight (it may have landed)
                return
            if r.status_code == 200:
                body = r.json()
                if (op.durable or self.sync_always) and body.get("durable") is not True:
                    self.log.error(f"{op.kind} {op.tag} asked durable (or --sync always) but answered {body}")
                self.log.ack(op, int(body["lsn"]))
                owned = set(self.model.owned(self.t))
                for i, c in op.contents.items():
                    if i in owned:
                        (self.present.add if c is not None else self.present.discard)(i)
            elif op.kind == "delete" and r.status_code == 404:
                self.log.nothing_applied(op)
                with self.log.lock:
                    self.log.stats.deletes_404 += 1
                self.present.discard(op.ids[0])
            else:
                # lynxd must not fail a write before it is killed; keep the op in flight (a durable
                # write can fail after being applied) and report it.
                self.log.error(f"{op.kind} {op.ids[:3]}... answered {r.status_code}: {r.text[:300]}")
                return


class Checkpointer(threading.Thread):
    """Calls POST /checkpoint in a loop; records whether one was in flight when lynxd died."""

    def __init__(self, srv: LynxServer, log: CycleLog, stop: threading.Event, rng: random.Random):
        super().__init__(daemon=True, name="checkpointer")
        self.base = srv.base_url
        self.log = log
        self.stop = stop
        self.rng = rng
        self.in_flight = threading.Event()
        self.session = TimeoutSession()

    def run(self) -> None:
        while not self.stop.is_set():
            self.in_flight.set()
            try:
                r = self.session.post(f"{self.base}/checkpoint")
            except requests.RequestException:
                return  # died during the checkpoint: in_flight stays set
            self.in_flight.clear()
            if r.status_code != 200:
                self.log.error(f"checkpoint answered {r.status_code}: {r.text[:300]}")
                return
            with self.log.lock:
                self.log.stats.checkpoints += 1
            # short pause so that writes pile up between checkpoints
            self.stop.wait(self.rng.uniform(0, 0.05))


class HealthWatcher(threading.Thread):
    """Polls /health: durable_lsn <= last_lsn, and both never go back."""

    def __init__(self, srv: LynxServer, log: CycleLog, stop: threading.Event):
        super().__init__(daemon=True, name="health")
        self.base = srv.base_url
        self.log = log
        self.stop = stop
        self.session = TimeoutSession()
        self.samples = 0

    def run(self) -> None:
        last = durable = 0
        while not self.stop.is_set():
            try:
                r = self.session.get(f"{self.base}/health")
            except requests.RequestException:
                return
            if r.status_code != 200:
                self.log.error(f"/health answered {r.status_code}: {r.text[:200]}")
                return
            wal = r.json()["wal"]
            self.samples += 1
            if not (wal["durable_lsn"] <= wal["last_lsn"]):
                self.log.error(f"/health: durable_lsn {wal['durable_lsn']} > last_lsn {wal['last_lsn']}")
            if wal["last_lsn"] < last or wal["durable_lsn"] < durable:
                self.log.error(f"/health went back: last {last}->{wal['last_lsn']} durable {durable}->{wal['durable_lsn']}")
            last, durable = wal["last_lsn"], wal["durable_lsn"]
            self.stop.wait(0.01)


def fetch_all(srv: LynxServer, ids: list[int]) -> dict[int, Content | None]:
    """Reads every id by GET, and cross-checks with one search that returns every live record."""
    s = TimeoutSession()
    out: dict[int, Content | None] = {}
    for i in ids:
        r = s.get(srv.url(f"/vectors/{i}"))
        if r.status_code == 404:
            out[i] = None
        else:
            assert r.status_code == 200, f"GET /vectors/{i}: {r.status_code} {r.text[:300]}"
            rec = r.json()
            assert rec["id"] == i
            out[i] = Content.observed(rec)
    count = s.get(srv.url("/stats")).json()["count"]
    live = {i for i, c in out.items() if c is not None}
    assert count == len(live), f"/stats count {count} but {len(live)} of the known ids are present (unknown ids exist?)"
    if 0 < count <= 1000:
        dim = len(next(c for c in out.values() if c is not None).bits)
        r = s.post(srv.url("/search"), json={"vector": [0.0] * dim, "k": 1000, "include": ["metadata", "vector"]})
        assert r.status_code == 200, r.text[:300]
        found = {h["id"]: Content.observed(h) for h in r.json()["results"]}
        if os.environ.get("LYNX_CRASH_INDEX", "flat") == "flat":
            assert set(found) == live, f"search sees {sorted(set(found) ^ live)[:10]} differently from GET"
        else:
            # An approximate index may miss a live record (HNSW: a node pruning left without in-links until the
            # next consolidation, see test_hnsw_reachability.py); it must never return one GET does not have.
            assert set(found) <= live, f"search returns ids GET does not have: {sorted(set(found) - live)[:10]}"
        for i, c in found.items():
            assert c.same_data(out[i]), f"id {i}: search returns other content than GET"
    s.close()
    return out


def describe(c: Content | None) -> str:
    if c is None:
        return "absent"
    return f"{c.op}({c.metadata_json[:60] if c.metadata_json else 'no metadata'})"


def check_cycle(model: Model, log: CycleLog, observed: dict[int, Content | None]) -> tuple[list[str], CycleStats]:
    """Compares what lynxd holds after the restart with what was acknowledged; returns the violations."""
    problems: list[str] = []
    st = log.stats
    # last acknowledged content per id (highest LSN wins)
    last_acked: dict[int, tuple[int, Content | None, Op]] = {}
    for op in log.acked:
        for i, c in op.contents.items():
            if i not in last_acked or op.lsn > last_acked[i][0]:
                last_acked[i] = (op.lsn, c, op)
    # LSNs are unique and increasing per thread
    lsns = [op.lsn for op in log.acked]
    if len(set(lsns)) != len(lsns):
        problems.append("two acknowledged writes got the same LSN")
    inflight_by_id: dict[int, list[Op]] = {}
    for op in log.inflight.values():
        st.inflight += 1
        st.batches_inflight += op.kind == "batch"
        for i in op.ids:
            inflight_by_id.setdefault(i, []).append(op)

    for i in model.universe():
        got = observed.get(i)
        if i in last_acked:
            base = last_acked[i][1]
            base_desc = f"acknowledged {last_acked[i][2].kind} {last_acked[i][2].tag} lsn {last_acked[i][0]}"
        else:
            base = model.known.get(i)
            base_desc = "state before the cycle"
        allowed = [base] + [op.contents[i] for op in inflight_by_id.get(i, [])]

        def matches(a: Content | None, b: Content | None) -> bool:
            return a is None and b is None or (a is not None and b is not None and a.same_data(b))

        if not any(matches(got, a) for a in allowed):
            problems.append(f"id {i}: found {describe(got)}, expected {base_desc} = {describe(base)}"
                            + (f" or one of in-flight {[op.tag for op in inflight_by_id[i]]}" if i in inflight_by_id else ""))

    # Unacknowledged batches: all or nothing (their ids are owned by one thread, so nothing else touched them since).
    for op in log.inflight.values():
        if op.kind != "batch":
            continue
        landed = [i for i in op.ids if observed.get(i) is not None and observed[i].same_data(op.contents[i])]
        if landed:
            st.inflight_landed += 1
        if landed and len(landed) != len(op.ids):
            missing = [i for i in op.ids if i not in landed]
            problems.append(f"unacknowledged batch {op.tag} is half applied: {len(landed)}/{len(op.ids)} ids "
                            f"have its content, missing {missing[:5]}")
    for op in log.inflight.values():
        if op.kind == "upsert" and observed.get(op.ids[0]) is not None and observed[op.ids[0]].same_data(op.contents[op.ids[0]]):
            st.inflight_landed += 1
    return problems, st


@dataclass
class Variant:
    sync: str = "flush"
    checkpoint_wal_bytes: int = 65536
    threads: int = 4
    owned_per_thread: int = 60
    shared: int = 16
    dimension: int = 8
    durable_fraction: float = 0.2
    checkpoint_loop: bool = False   # a thread calling POST /checkpoint continuously
    min_run: float = 0.15
    max_run: float = 0.8
    index: str | None = None        # None: LYNX_CRASH_INDEX, else flat
    extra_flags: tuple[str, ...] = ()
    search_sample: int = 0          # after each restart, search this many live records by their own vector
    batch_max: int = 20             # records in a batch op: 2 to this

    def flags(self) -> list[str]:
        return ["--sync", self.sync, "--checkpoint-wal-bytes", str(self.checkpoint_wal_bytes),
                "--sync-interval", "0.05", "--threads", "4", *self.extra_flags]


# HNSW with a builder kept far behind the writers (a slow graph: 96-d, m 32, ef_construction 1500, so each link
# costs milliseconds; batches of up to 300), thousands of ids, longer runs: kills land while thousands of
# acknowledged records wait in the pending tail; after each restart they must all be there, exact, and found by a
# search for their own vector.
BUILDER_BEHIND = Variant(sync="flush", checkpoint_wal_bytes=1 << 20, dimension=96, owned_per_thread=1000,
                         min_run=1.5, max_run=3.0, index="hnsw", search_sample=150, batch_max=300,
                         extra_flags=("--hnsw-m", "32", "--hnsw-ef-construction", "1500", "--index-threads", "1"))


def lynxd_argv(binary: Path, data_dir: Path, v: Variant) -> list[str]:
    # LYNX_CRASH_INDEX (flat by default) runs the same workload on hnsw or ivf (e.g. scripts/torture.sh).
    index = v.index or os.environ.get("LYNX_CRASH_INDEX", "flat")
    return [str(binary), "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir),
            "--dimension", str(v.dimension), "--metric", "l2", "--index", index, *v.flags()]


def clean_env() -> dict[str, str]:
    return {k: val for k, val in os.environ.items() if not k.startswith("LYNX_")}


class CrashRunner:
    """Runs kill/restart cycles on one data directory. `start` returns a ready LynxServer."""

    def __init__(self, binary: Path, workdir: Path, variant: Variant, seed: int, out=print, launch=None):
        self.binary = binary
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.v = variant
        self.seed = seed
        self.rng = random.Random(seed)
        self.model = Model(variant.dimension, variant.threads, variant.owned_per_thread, variant.shared)
        self.out = out
        self.launch = launch  # optional callable(argv_tail, data_dir) -> ready LynxServer (pytest's start_server)
        self.n_started = 0
        self.srv: LynxServer | None = None
        self.totals = CycleStats()
        self.pending_at_kills: list[int] = []   # records waiting to be linked (HNSW) just before each kill
        self.search_found = self.search_tried = 0

    def start(self) -> LynxServer:
        self.n_started += 1
        argv = lynxd_argv(self.binary, self.data_dir, self.v)
        if self.launch:
            srv = self.launch(argv[1:], self.data_dir)
        else:
            srv = LynxServer(argv, clean_env(), self.data_dir, self.workdir / f"lynxd-{self.n_started}.log")
            srv.wait_listening()
            srv.wait_ready()
        self.srv = srv
        return srv

    def cycle(self, c: int) -> list[str]:
        """One cycle: (restart) → writers → SIGKILL → restart → verify. Returns violations."""
        srv = self.srv or self.start()
        stop = threading.Event()
        log = CycleLog()
        # Every other cycle at least (a coin alone left all 8 without one now and then).
        kill_during_checkpoint = self.v.checkpoint_loop and (self.rng.random() < 0.5 or c % 2 == 1)
        writers = [Writer(srv, self.model, log, t, self.rng.randrange(2**32), stop, c, self.v.durable_fraction,
                          self.v.sync == "always", self.v.batch_max)
                   for t in range(self.v.threads)]
        ckpt = Checkpointer(srv, log, stop, random.Random(self.rng.randrange(2**32))) if self.v.checkpoint_loop else None
        watcher = HealthWatcher(srv, log, stop)
        run_for = self.rng.uniform(self.v.min_run, self.v.max_run)
        for w in writers:
            w.start()
        watcher.start()
        if ckpt:
            ckpt.start()
        deadline = time.monotonic() + run_for
        # Kill at the chosen moment; in a "kill during checkpoint" cycle, at the first moment after it
        # when a POST /checkpoint is in flight (bounded wait).
        while time.monotonic() < deadline and not log.errors:
            time.sleep(0.005)
        try:
            self.pending_at_kills.append(int(srv.health().get("linking", {}).get("pending", 0)))
        except Exception:  # noqa: BLE001 (a busy server: the figure is informational)
            pass
        # From seeing a POST /checkpoint in flight to the kill, only the short random delay (a /health read there
        # outlasted a ~4 ms checkpoint), and whether one is in flight is read just before the kill (after it, the
        # checkpointer thread may already have seen its answer or the broken connection).
        if kill_during_checkpoint and ckpt:
            ckpt.in_flight.wait(2.0)
            time.sleep(self.rng.uniform(0, 0.002))
        in_checkpoint = bool(ckpt and ckpt.in_flight.is_set())
        srv.proc.send_signal(signal.SIGKILL)
        log.stats.killed_during_checkpoint = in_checkpoint
        srv.proc.wait(20)
        stop.set()
        for th in writers + [watcher] + ([ckpt] if ckpt else []):
            th.join(20)
        srv.kill()  # joins the log reader
        srv.close_log()
        problems = list(log.errors)
        # restart on the same data dir, then verify
        srv2 = self.start()
        health = srv2.health()
        if health["wal"]["last_lsn"] < log.stats.max_lsn:
            problems.append(f"after restart last_lsn {health['wal']['last_lsn']} < acknowledged lsn {log.stats.max_lsn} (LSNs went back)")
        pending_after = srv2.health()["linking"]["pending"]
        observed = fetch_all(srv2, self.model.universe())
        more, st = check_cycle(self.model, log, observed)
        problems += more
        if self.v.search_sample:
            problems += self.search_own_vectors(srv2, observed)
        self.model.known = observed
        self.model.max_acked_lsn = max(self.model.max_acked_lsn, st.max_lsn)
        for k in ("acked", "acked_durable", "inflight", "inflight_landed", "batches_inflight", "checkpoints"):
            setattr(self.totals, k, getattr(self.totals, k) + getattr(st, k))
        self.totals.killed_during_checkpoint += st.killed_during_checkpoint  # type: ignore[assignment]
        live = sum(1 for x in observed.values() if x is not None)
        self.out(f"cycle {c}: {'FAIL' if problems else 'ok'} run={run_for:.2f}s acked={st.acked} "
                 f"(durable {st.acked_durable}) inflight={st.inflight} landed={st.inflight_landed} "
                 f"checkpoints={st.checkpoints}{' killed-in-checkpoint' if st.killed_during_checkpoint else ''} "
                 f"max_lsn={st.max_lsn} checkpoint_seq={health['wal']['checkpoint_seq']} live={live}"
                 + (f" pending_at_kill={self.pending_at_kills[-1]} pending_after_restart={pending_after}"
                    if self.pending_at_kills else ""))
        return problems

    def search_own_vectors(self, srv: LynxServer, observed: dict[int, Content | None]) -> list[str]:
        """Searches a sample of live records by their own vector: each must come back (at distance 0) unless the
        graph misses it, and no answer may hold an id GET does not have. Counts found/tried across cycles."""
        live = sorted(i for i, c in observed.items() if c is not None)
        problems: list[str] = []
        s = TimeoutSession()
        for i in self.rng.sample(live, min(self.v.search_sample, len(live))):
            c = observed[i]
            vec = [struct.unpack("<f", struct.pack("<I", b))[0] for b in c.bits]
            r = s.post(srv.url("/search"), json={"vector": vec, "k": 10, "ef_search": 256})
            if r.status_code != 200:
                problems.append(f"search by id {i}'s vector: {r.status_code} {r.text[:200]}")
                continue
            hits = r.json()["results"]
            self.search_tried += 1
            self.search_found += any(h["id"] == i and h["distance"] == 0 for h in hits)
            gone = [h["id"] for h in hits if observed.get(h["id"]) is None]
            if gone:
                problems.append(f"search returned ids that GET does not have: {gone[:5]}")
        s.close()
        return problems

    def close(self) -> None:
        if self.srv and self.srv.running():
            self.srv.kill()
        if self.srv:
            self.srv.close_log()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="lynxd kill/restart torture loop")
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**31)
    binary = lynxd_path()
    if not binary.is_file():
        print(f"lynxd not found at {binary} (build it or set LYNXD)", file=sys.stderr)
        return 2
    print(f"torture: seed={seed} cycles={a.cycles} lynxd={binary}", flush=True)
    variants = [
        Variant(sync="flush", checkpoint_wal_bytes=65536),
        Variant(sync="always", checkpoint_wal_bytes=65536),
        Variant(sync="flush", checkpoint_wal_bytes=1 << 26, checkpoint_loop=True),
        BUILDER_BEHIND,
    ]
    work = Path(tempfile.mkdtemp(prefix="lynx-torture-"))
    passed = failed = 0
    runners = []
    try:
        for k, v in enumerate(variants):
            r = CrashRunner(binary, work / f"v{k}", v, seed + k, out=lambda s, k=k: print(f"[v{k}] {s}", flush=True))
            r.workdir.mkdir(parents=True)
            runners.append(r)
        for c in range(a.cycles):
            r = runners[c % len(runners)]
            try:
                problems = r.cycle(c)
            except Exception as e:  # a crash of the harness or a lynxd that would not restart
                problems = [f"cycle raised {type(e).__name__}: {e}"]
                r.close()
                r.srv = None
            if problems:
                failed += 1
                for p in problems[:20]:
                    print(f"    {p}", flush=True)
                print(f"    logs: {r.workdir}", flush=True)
            else:
                passed += 1
    finally:
        for r in runners:
            r.close()
        if failed == 0 and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    for k, r in enumerate(runners):
        if r.search_tried:
            print(f"[v{k}] pending at kills: max {max(r.pending_at_kills, default=0)}; own-vector searches found "
                  f"{r.search_found}/{r.search_tried}", flush=True)
            if r.search_found < 0.99 * r.search_tried:
                print(f"[v{k}] FAIL: fewer than 99% of the records found by their own vector", flush=True)
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


# --------------------------------------------------------------------------- small shared helpers

def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus text format → {(name, frozenset(label pairs)): value}."""
    out: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        labels: frozenset = frozenset()
        name = name_labels
        if "{" in name_labels:
            name, _, rest = name_labels.partition("{")
            pairs = []
            for part in rest.rstrip("}").split('",'):
                if not part:
                    continue
                k, _, v = part.partition("=")
                pairs.append((k.strip(), v.strip().strip('"')))
            labels = frozenset(pairs)
        out[(name, labels)] = float(value)
    return out


def metric(srv: LynxServer, name: str, **labels) -> float | None:
    """A sample's value; a store's series are looked up in the default collection unless `collection` is given."""
    r = srv.get("/metrics")
    assert r.status_code == 200, r.text[:300]
    samples = parse_metrics(r.text)
    found = samples.get((name, frozenset(labels.items())))
    if found is None and "collection" not in labels:
        found = samples.get((name, frozenset({**labels, "collection": "default"}.items())))
    return found


if __name__ == "__main__":
    sys.exit(main())

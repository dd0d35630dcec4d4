"""A bounded soak in the suite: bench/soak/soak.py's mixed traffic at 64 connections against a real lynxd for
60 s (LYNX_SOAK_SECONDS): no 5xx, every bad request its 4xx, RSS growth after the warm-up under 10%, and every
acknowledged write present afterwards, also after a SIGKILL and restart. scripts/soak.sh runs it for 10 minutes."""
from __future__ import annotations

import importlib.util
import os
import resource
import sys

import pytest

from lynx_helpers import REPO

pytestmark = [pytest.mark.live, pytest.mark.slow]

DIM = 32


def _soak():
    spec = importlib.util.spec_from_file_location("soak", REPO / "bench" / "soak" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_mixed_traffic_at_64_connections(start_server):
    seconds = float(os.environ.get("LYNX_SOAK_SECONDS", "60"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    # A small log threshold: the log cycles through checkpoints during the warm-up, so the mapped log does not
    # keep growing RSS afterwards (with the default 64 MiB it would, up to that bound, by design).
    srv = start_server(dimension=DIM, index="hnsw", checkpoint_wal_bytes=4 << 20)
    soak = _soak()
    lines: list[str] = []

    def out(line):
        lines.append(line)
        print(line)

    res = soak.run(srv.base_url, srv.proc.pid, DIM, seconds, connections=64, ids=100, seed=1, out=out)
    report = "\n".join(lines)
    assert res["requests"] > 1000, report
    assert not res["server_errors"], report
    assert res["transport_errors"] == 0 and res["stuck"] == 0, report
    assert not res["wrong"], report
    assert not res["missing"], report
    assert res["verified"] > 5000, report
    assert res["rss_growth"] < 0.10, report

    # Made durable, killed with SIGKILL and restarted: the same acknowledged state.
    assert srv.post("/flush").status_code == 200
    data_dir = srv.data_dir
    srv.kill()
    again = start_server(data_dir=data_dir, dimension=DIM, index="hnsw")
    after_restart = soak.verify(again.base_url, res["models"])
    assert not after_restart, "\n".join(after_restart[:20])

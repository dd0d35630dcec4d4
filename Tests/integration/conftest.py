"""Fixtures that start real lynxd processes on 127.0.0.1 with an ephemeral port.

Binary: $LYNXD, default <repo>/.build/release/lynxd. When it is missing the live tests are
skipped, unless CI=true or LYNX_REQUIRE_SERVER=1, where they fail.

    start_server(dimension=8, metric="cosine", max_batch=3)   # -> LynxServer (flags: --dimension 8 ...)
    start_server(data_dir=other.data_dir)                      # reuse a data directory (restarts)
    start_server(defaults=False, env={...}, extra_args=[...])  # full control (env-var tests)
    start_server(tls_cert=c, tls_key=k, verify=ca_file)         # HTTPS; requests check the certificate against ca_file

Each server's stderr (and stdout) goes to a log file under tmp_path; on a failing test every
log of that test is attached to the report.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lynx_helpers import LynxServer, lynxd_path, server_required


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: restarts, crashes or many requests (deselect with -m 'not slow')")
    config.addinivalue_line("markers", "live: needs a built lynxd binary")


_servers_key = pytest.StashKey[list]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in item.stash.get(_servers_key, []):
            rep.sections.append((f"lynxd log {srv.log_path.name}", srv.log_text()[-20000:]))


@pytest.fixture
def lynxd_bin() -> Path:
    path = lynxd_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        msg = f"lynxd binary not found at {path} (build it: swift build -c release --product lynxd, or set LYNXD)"
        if server_required():
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def _flag_args(flags: dict) -> list[str]:
    args = []
    for name, value in flags.items():
        if value is None:
            continue
        args += ["--" + name.replace("_", "-"), str(value)]
    return args


@pytest.fixture
def start_server(request, lynxd_bin, tmp_path):
    started: list[LynxServer] = []
    request.node.stash[_servers_key] = started
    counter = [0]

    def _start(*, data_dir: Path | None = None, defaults: bool = True, env: dict | None = None,
               extra_args: list[str] | None = None, wait: bool = True, verify: str | bool = True,
               **flags) -> LynxServer:
        counter[0] += 1
        n = counter[0]
        data_dir = Path(data_dir) if data_dir is not None else tmp_path / "data"
        argv = [str(lynxd_bin)]
        if defaults:
            argv += ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
            flags.setdefault("dimension", 4)
            flags.setdefault("metric", "l2")
            flags.setdefault("index", "flat")
        argv += _flag_args(flags) + list(extra_args or [])
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
        full_env.update(env or {})
        srv = LynxServer(argv, full_env, data_dir, tmp_path / f"lynxd-{n}.log", verify=verify)
        started.append(srv)
        if wait:
            srv.wait_listening()
            srv.wait_ready()
        return srv

    yield _start

    for srv in started:
        if srv.running():
            try:
                srv.stop()
            except RuntimeError:
                srv.kill()
        srv.close_log()


@pytest.fixture
def server(start_server) -> LynxServer:
    """lynxd with a flat index, l2 metric, dimension 4, fresh data directory."""
    return start_server()

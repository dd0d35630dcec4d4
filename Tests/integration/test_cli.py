"""lynxd's command line: --help, bad flag values, environment variables, signals."""
from __future__ import annotations

import signal

import pytest

from lynx_helpers import CONTRACT_FLAGS, free_port, run_lynxd

pytestmark = pytest.mark.live


def test_help_exits_zero_and_lists_every_flag(lynxd_bin):
    p = run_lynxd(["--help"])
    assert p.returncode == 0, p.stderr
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    missing = [f for f in CONTRACT_FLAGS if f not in text]
    assert not missing, f"--help does not mention {missing}:\n{text}"


BAD_FLAGS = [
    (["--metric", "foo"], "metric"),
    (["--index", "foo"], "index"),
    (["--sync", "sometimes"], "sync"),
    (["--port", "70000"], "port"),
    (["--port", "-1"], "port"),
    (["--port", "http"], "port"),
    (["--dimension", "0"], "dimension"),
    (["--dimension", "four"], "dimension"),
    (["--max-body-bytes", "lots"], "max-body-bytes"),
    (["--log-level", "chatty"], "log-level"),
    (["--index-threads", "-1"], "index-threads"),
    (["--index-max-pending", "0"], "index-max-pending"),
    (["--index-pending-wait", "-1"], "index-pending-wait"),
    (["--shutdown-checkpoint-timeout", "soon"], "shutdown-checkpoint-timeout"),
    (["--no-such-flag"], "no-such-flag"),
    # replication (issue 14): each mistake is refused at start, before etcd is contacted
    (["--node-name", "n1"], "etcd-endpoints"),
    (["--etcd-endpoints", "127.0.0.1:2379", "--node-name", "n1"], "etcd-endpoints"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--advertise-url", "http://127.0.0.1:9"], "node-name"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--node-name", "n1"], "advertise-url"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--node-name", "n1", "--advertise-url", "http://127.0.0.1:9", "--wal", "off"], "wal"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--node-name", "n1", "--advertise-url", "http://127.0.0.1:9",
      "--replication", "sometimes"], "replication"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--node-name", "n1", "--advertise-url", "http://127.0.0.1:9",
      "--replication", "sync", "--sync-replicas", "0"], "sync-replicas"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--node-name", "n1", "--advertise-url", "http://127.0.0.1:9",
      "--sync-replicas", "2"], "sync-replicas"),
    (["--etcd-endpoints", "http://127.0.0.1:9", "--node-name", "n1", "--advertise-url", "http://127.0.0.1:9",
      "--lease-ttl", "1"], "lease-ttl"),
]


def _one_clear_line(p, needle: str) -> str:
    err = p.stderr.decode("utf-8", "replace")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}:\n{err}"
    assert needle.lower() in lines[0].lower(), f"the error line does not name {needle!r}: {lines[0]!r}"
    assert "listening on" not in err
    return lines[0]


@pytest.mark.parametrize("args,needle", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flag_value_fails_with_one_line(lynxd_bin, tmp_path, args, needle):
    p = run_lynxd(["--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path / "d"), *args]
                  if "--port" not in args else ["--host", "127.0.0.1", "--data-dir", str(tmp_path / "d"), *args])
    assert p.returncode != 0
    _one_clear_line(p, needle)


@pytest.mark.parametrize("var,value,needle", [
    ("LYNX_METRIC", "foo", "metric"), ("LYNX_PORT", "70000", "port"), ("LYNX_DIMENSION", "x", "dimension"),
])
def test_bad_env_value_fails_with_one_line(lynxd_bin, tmp_path, var, value, needle):
    env = {"LYNX_HOST": "127.0.0.1", "LYNX_PORT": "0", "LYNX_DATA_DIR": str(tmp_path / "d"), var: value}
    p = run_lynxd([], env=env)
    assert p.returncode != 0
    line = _one_clear_line(p, needle)
    assert needle.lower() in line.lower() or var.lower() in line.lower()


def test_environment_variables_are_honoured(start_server, tmp_path):
    port = free_port()
    env = {
        "LYNX_HOST": "127.0.0.1", "LYNX_PORT": str(port), "LYNX_DATA_DIR": str(tmp_path / "envdata"),
        "LYNX_DIMENSION": "3", "LYNX_METRIC": "cosine", "LYNX_INDEX": "flat", "LYNX_MAX_BATCH": "2",
        "LYNX_MAX_BODY_BYTES": "2048", "LYNX_LOG_LEVEL": "info",
    }
    srv = start_server(defaults=False, env=env)
    assert (srv.host, srv.port) == ("127.0.0.1", port)
    s = srv.stats()
    assert (s["dimension"], s["metric"], s["index"]["type"]) == (3, "cosine", "flat")
    ok = srv.post("/vectors?durable=true", json={"vectors": [{"id": 1, "vector": [1, 0, 0]}, {"id": 2, "vector": [0, 1, 0]}]})
    assert ok.status_code == 200, ok.text
    r = srv.post("/vectors", json={"vectors": [{"id": i, "vector": [1, 1, 1]} for i in range(10, 13)]})
    assert r.status_code == 422, r.text
    r = srv.post_raw("/vectors", b'{"id": 9, "vector": [1, 1, 1], "metadata": {"p": "' + b"x" * 3000 + b'"}}')
    assert r.status_code == 413, r.text
    assert any((tmp_path / "envdata").iterdir()), "LYNX_DATA_DIR was not used"


def test_flag_overrides_environment(start_server, tmp_path):
    env = {"LYNX_METRIC": "cosine", "LYNX_DIMENSION": "3"}
    srv = start_server(env=env, metric="dot", dimension=5)
    s = srv.stats()
    assert (s["metric"], s["dimension"]) == ("dot", 5)


def test_listening_line_reports_bound_ephemeral_port(server):
    assert server.host == "127.0.0.1"
    assert 0 < server.port < 65536
    assert server.get("/health").status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_zero(server, sig):
    server.upsert({"id": 1, "vector": [1, 0, 0, 0]})
    assert server.stop(sig=sig) == 0


def test_second_instance_on_same_data_dir_fails(start_server, tmp_path):
    first = start_server()
    p = run_lynxd(["--host", "127.0.0.1", "--port", "0", "--data-dir", str(first.data_dir), "--dimension", "4"])
    assert p.returncode != 0, "a second lynxd opened a data directory that is in use"
    assert p.stderr.strip(), "no error message"
    assert first.get("/health").status_code == 200

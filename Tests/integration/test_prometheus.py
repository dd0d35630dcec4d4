"""A real Prometheus scrapes lynxd every second; its query API must show lynx's series.

Needs the `prometheus` binary (scripts/install-deps.sh --test installs Debian's); skipped with the reason otherwise.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from lynx_helpers import free_port

pytestmark = [pytest.mark.live]


@pytest.fixture
def prometheus(tmp_path):
    binary = shutil.which("prometheus")
    if not binary:
        pytest.skip("prometheus is not installed (scripts/install-deps.sh --test installs it)")
    procs = []

    def start(target: str, rule_files: list[Path] = ()):
        port = free_port()
        cfg = tmp_path / "prometheus.yml"
        rules = "".join(f"  - {p}\n" for p in rule_files)
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            + (f"rule_files:\n{rules}" if rules else "")
            + "scrape_configs:\n  - job_name: lynx\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['{target}']\n")
        log = open(tmp_path / "prometheus.log", "wb")
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append((proc, log))
        return f"http://127.0.0.1:{port}", tmp_path / "prometheus.log"

    yield start
    for proc, log in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def query(base: str, q: str) -> list[dict]:
    r = requests.get(f"{base}/api/v1/query", params={"query": q}, timeout=5)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_query(base, q, pred, timeout=40.0, log=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = query(base, q)
            if pred(last):
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-2000:] if log else ""
    raise AssertionError(f"prometheus query {q!r} never satisfied the check within {timeout}s; last: {last}\n{tail}")


@pytest.mark.slow
def test_prometheus_scrapes_lynx_metrics(start_server, prometheus):
    srv = start_server(dimension=4)
    for i in range(1, 8):
        assert srv.post("/vectors", json={"id": i, "vector": [i, 0, 0, 1]}).status_code == 200
    assert srv.get("/vectors/3").status_code == 200
    assert srv.get("/vectors/424242").status_code == 404
    assert srv.delete("/vectors/7").status_code == 200
    count = srv.stats()["count"]
    assert count == 6
    base, log = prometheus(f"127.0.0.1:{srv.port}")

    lag = wait_query(base, "lynx_wal_checkpoint_lag_bytes", lambda res: len(res) == 1, log=log)
    assert float(lag[0]["value"][1]) > 0, lag
    up = wait_query(base, 'up{job="lynx"}', lambda res: len(res) == 1 and res[0]["value"][1] == "1", log=log)
    assert up[0]["metric"]["instance"] == f"127.0.0.1:{srv.port}"
    vectors = wait_query(base, "lynx_vectors", lambda res: len(res) == 1, log=log)
    assert float(vectors[0]["value"][1]) == count, vectors

    reqs = wait_query(base, "lynx_http_requests_total",
                      lambda res: {"/vectors/{id}", "/metrics"} <= {s["metric"].get("route") for s in res}, log=log)
    routes = {s["metric"]["route"] for s in reqs}
    assert {"/vectors", "/vectors/{id}", "/stats", "/metrics"} <= routes, routes
    assert not any(r.startswith("/vectors/") and r != "/vectors/{id}" for r in routes), f"raw paths as labels: {routes}"
    for s in reqs:
        assert {"route", "method", "code"} <= set(s["metric"]), s
    got = {(s["metric"]["route"], s["metric"]["method"], s["metric"]["code"]) for s in reqs}
    assert ("/vectors/{id}", "GET", "404") in got and ("/vectors/{id}", "DELETE", "200") in got, got

    # a checkpoint brings the scraped lag to 0 within a few scrapes
    assert srv.post("/checkpoint").status_code == 200
    wait_query(base, "lynx_wal_checkpoint_lag_bytes", lambda res: len(res) == 1 and float(res[0]["value"][1]) == 0, log=log)
    ck = wait_query(base, 'lynx_checkpoints_total{result="success"}', lambda res: len(res) == 1 and float(res[0]["value"][1]) >= 1, log=log)
    assert ck


ALERTS = Path(__file__).resolve().parents[2] / "docker" / "alerts.yml"


@pytest.mark.slow
def test_prometheus_loads_the_alert_rules(start_server, prometheus):
    """The compose Prometheus's rules (docker/alerts.yml) load without error in a real Prometheus, evaluate against
    a real lynxd's series (the disk metrics they need are scraped), and none fires on a healthy store."""
    srv = start_server(dimension=4)
    base, log = prometheus(f"127.0.0.1:{srv.port}", rule_files=[ALERTS])
    disk = wait_query(base, "lynx_disk_available_bytes / lynx_disk_size_bytes", lambda res: len(res) == 1, log=log)
    assert 0 < float(disk[0]["value"][1]) <= 1, disk
    r = requests.get(f"{base}/api/v1/rules", timeout=5)
    r.raise_for_status()
    groups = r.json()["data"]["groups"]
    names = {rule["name"] for g in groups for rule in g["rules"]}
    assert {"LynxDown", "LynxCollectionNotReady", "LynxFsyncErrors", "LynxCheckpointLagHigh", "LynxDiskNearlyFull",
            "LynxDiskFull"} <= names, names

    def evaluated(_):
        rules = [rule for g in requests.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"] for rule in g["rules"]]
        return all(rule.get("health") == "ok" and rule.get("lastEvaluation", "").startswith("2") for rule in rules)
    wait_query(base, "up", evaluated, log=log)
    firing = query(base, 'ALERTS{alertstate="firing"}')
    assert [a for a in firing if a["metric"]["alertname"] not in ("LynxDiskNearlyFull", "LynxDiskFull")] == [], firing

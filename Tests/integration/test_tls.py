"""HTTPS through libmicrohttpd's GnuTLS support (--tls-cert, --tls-key), with a CA the test makes with openssl.

Real clients (curl and Python requests) check the server's certificate against that CA; TLS below 1.2 and plain
HTTP on the TLS port are not served; a client trusting another CA refuses the server.
"""
from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import requests

from lynx_helpers import run_lynxd

pytestmark = pytest.mark.live


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN={name}", cwd=directory)
    return directory / f"{name}.pem", directory / f"{name}.key"


@pytest.fixture
def pki(tmp_path):
    """A CA, and a certificate for 127.0.0.1 signed by it; also a second, unrelated CA."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test's certificates")
    d = tmp_path / "pki"
    d.mkdir()
    ca, ca_key = make_ca(d, "lynx-test-ca")
    other_ca, _ = make_ca(d, "other-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return {"ca": ca, "other_ca": other_ca, "cert": d / "server.pem", "key": d / "server.key", "ca_key": ca_key}


@pytest.fixture
def tls_server(start_server, pki):
    return start_server(tls_cert=pki["cert"], tls_key=pki["key"], verify=str(pki["ca"]))


def test_requests_with_the_ca_writes_and_reads_over_https(tls_server):
    assert tls_server.base_url.startswith("https://127.0.0.1:")
    assert tls_server.get("/health").status_code == 200
    tls_server.upsert([{"id": 7, "vector": [1, 2, 3, 4]}], durable=True)
    r = tls_server.get("/vectors/7")
    assert r.status_code == 200
    assert r.json()["vector"] == [1, 2, 3, 4]


def test_curl_with_the_ca_gets_health_and_a_written_vector(tls_server, pki):
    base = tls_server.base_url
    out = subprocess.run(["curl", "-sS", "--cacert", str(pki["ca"]), "-o", "/dev/null", "-w", "%{http_code}",
                          base + "/health"], capture_output=True, text=True, timeout=30)
    assert out.stdout == "200", out.stderr
    out = subprocess.run(["curl", "-sS", "--cacert", str(pki["ca"]), "-H", "Content-Type: application/json",
                          "-d", '{"id": 9, "vector": [4, 3, 2, 1]}', base + "/vectors"],
                         capture_output=True, text=True, timeout=30)
    assert '"upserted":1' in out.stdout, out.stdout + out.stderr
    out = subprocess.run(["curl", "-sS", "--cacert", str(pki["ca"]), base + "/vectors/9"],
                         capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout)["vector"] == [4, 3, 2, 1], out.stdout + out.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLSv1.0", "TLSv1.1"])
def test_tls_below_1_2_is_refused(tls_server, pki, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki["ca"])
    # Python's default security level forbids these versions on the client side; lower it so that the
    # refusal tested is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = version
    ctx.maximum_version = version
    with socket.create_connection((tls_server.host, tls_server.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(100)
    # The same client allowed TLS 1.2 is served: the refusal above was about the version.
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((tls_server.host, tls_server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() == "TLSv1.2"
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200")


def test_curl_tls_max_1_1_fails(tls_server, pki):
    out = subprocess.run(["curl", "-sS", "--cacert", str(pki["ca"]), "--tls-max", "1.1", tls_server.url("/health")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and out.stdout == "", (out.returncode, out.stdout)


def test_plain_http_to_the_tls_port_is_not_served(tls_server):
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{tls_server.port}/health", timeout=5)
    got = b""
    with socket.create_connection((tls_server.host, tls_server.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            while chunk := s.recv(4096):
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert b"HTTP/1.1 200" not in got and b'"status"' not in got, got[:200]


def test_a_client_trusting_another_ca_refuses_the_server(tls_server, pki):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_server.url("/health"), verify=str(pki["other_ca"]), timeout=10)
    out = subprocess.run(["curl", "-sS", "--cacert", str(pki["other_ca"]), tls_server.url("/health")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 60, (out.returncode, out.stderr)  # curl: peer certificate cannot be authenticated


@pytest.mark.parametrize("args,says", [
    (["--tls-cert", "{cert}"], "--tls-cert needs --tls-key"),
    (["--tls-key", "{key}"], "--tls-key needs --tls-cert"),
    (["--tls-cert", "{cert}", "--tls-key", "{missing}"], "cannot read the TLS key"),
    (["--tls-cert", "{key}", "--tls-key", "{key}"], "holds no PEM certificate"),
    (["--tls-cert", "{cert}", "--tls-key", "{cert}"], "holds no PEM private key"),
    (["--tls-cert", "{cert}", "--tls-key", "{ca_key}"], "do not match"),
])
def test_unusable_tls_files_refuse_to_start_with_one_line(pki, tmp_path, args, says):
    names = {k: str(v) for k, v in pki.items()} | {"missing": str(tmp_path / "nope.key")}
    r = run_lynxd(["--port", "0", "--data-dir", str(tmp_path / "d"), *[a.format(**names) for a in args]])
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert says in err and err.count("\n") == 1, err
    assert "listening" not in err


def test_tls_files_from_the_environment(start_server, pki):
    srv = start_server(env={"LYNX_TLS_CERT": str(pki["cert"]), "LYNX_TLS_KEY": str(pki["key"])}, verify=str(pki["ca"]))
    assert srv.scheme == "https"
    assert srv.get("/health").status_code == 200

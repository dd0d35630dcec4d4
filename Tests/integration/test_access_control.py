"""API keys (issue 13 item 1): `--api-key` / `--read-only-api-key`, as `Authorization: Bearer` or `api-key`, checked
before the body is read; 401 with WWW-Authenticate, 403 for a write with the read-only key; the probes open unless
`--auth-metrics`; no key on a non-loopback address refuses to start unless `--allow-unauthenticated`.

Keys go in through the environment or a key file, never argv, so the test can also check that they appear in no
log line (the fixture writes argv into the log file)."""
from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest
import requests

from lynx_helpers import assert_problem, raw_http, run_lynxd, wait_until
from openapi_check import SpecChecker, load_spec

pytestmark = [pytest.mark.live]

SPEC = load_spec()
KEY = "k3y-Full.0123456789abcdef"
READ_KEY = "r3ad-Only.fedcba9876543210"
WRONG = "k3y-Full.0123456789abcdeX"   # one byte from KEY
KEYS_ENV = {"LYNX_API_KEY": KEY, "LYNX_READ_ONLY_API_KEY": READ_KEY}
PROBES = ("/health", "/health/ready", "/metrics")
REALM = 'Bearer realm="lynx"'


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def concrete(template: str) -> str:
    return template.replace("{collection}", "books").replace("{id}", "1").replace("{field}", "lang")


@pytest.fixture
def keyed(start_server):
    """lynxd with both keys (from the environment), a record 1 and a collection `books` with a record."""
    srv = start_server(env=KEYS_ENV, log_level="debug")
    srv.session.headers.update(bearer(KEY))
    assert srv.post("/vectors", json={"id": 1, "vector": [1, 0, 0, 0], "metadata": {"lang": "en"}}).status_code == 200
    assert srv.request("PUT", "/collections/books", json={"dimension": 4, "index": "flat"}).status_code == 201
    assert srv.post("/collections/books/vectors", json={"id": 1, "vector": [0, 1, 0, 0]}).status_code == 200
    srv.session.headers.pop("Authorization")
    return srv


def call(srv, method: str, path: str, headers: dict | None = None) -> requests.Response:
    # A body that would be a valid request to most routes; refusals are decided before it is read.
    body = {"vector": [1, 0, 0, 0]} if method in ("POST", "PUT") else None
    return requests.request(method, srv.url(path), json=body, headers=headers or {}, timeout=15)


def test_missing_and_wrong_keys_get_401_with_www_authenticate(keyed):
    ck = SpecChecker(SPEC)
    for headers, invalid in [({}, False), (bearer(WRONG), True), ({"api-key": WRONG}, True), (bearer(""), False),
                             ({"Authorization": f"Basic {KEY}"}, False), ({"api-key": KEY[:-1]}, True)]:
        r = call(keyed, "GET", "/stats", headers)
        body = assert_problem(r, 401, "unauthorized")
        expected = REALM + (', error="invalid_token"' if invalid else "")
        assert r.headers["WWW-Authenticate"] == expected, (headers, r.headers)
        assert KEY not in r.text and WRONG not in r.text and READ_KEY not in r.text, body
        assert not ck.check(r), ck.check(r)


def test_both_header_forms_and_both_keys_are_accepted(keyed):
    for headers in [bearer(KEY), {"api-key": KEY}, {"Authorization": f"bearer {KEY}"}, bearer(READ_KEY),
                    {"api-key": READ_KEY}, {"Authorization": f"Bearer {KEY}", "api-key": WRONG}]:
        r = call(keyed, "GET", "/vectors/1", headers)
        assert r.status_code == 200, (headers, r.status_code, r.text)
        assert r.json()["id"] == 1
    # Authorization wins over api-key: a wrong bearer key is refused even beside a right api-key.
    assert_problem(call(keyed, "GET", "/vectors/1", {**bearer(WRONG), "api-key": KEY}), 401, "unauthorized")


def test_curl_with_each_header_form(keyed):
    base = keyed.base_url
    def curl(*args):
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        body, _, code = out.stdout.rpartition("\n")
        return int(code), body
    code, body = curl("-X", "POST", f"{base}/vectors", "-H", "Content-Type: application/json",
                      "-H", f"Authorization: Bearer {KEY}", "-d", '{"id": 2, "vector": [0, 0, 1, 0]}')
    assert code == 200, body
    code, body = curl(f"{base}/vectors/2", "-H", f"api-key: {READ_KEY}")
    assert code == 200 and '"id":2' in body, body
    code, body = curl(f"{base}/vectors/2")
    assert code == 401 and "unauthorized" in body, body
    code, body = curl("-X", "DELETE", f"{base}/vectors/2", "-H", f"api-key: {READ_KEY}")
    assert code == 403 and "forbidden" in body, body


def spec_operations():
    for template, item in SPEC["paths"].items():
        for method in ("get", "post", "put", "delete"):
            if method in item:
                yield template, method.upper(), item[method]


def test_every_operation_is_protected_as_the_spec_says(keyed):
    """Each operation of the spec, at the root and under /collections/{collection}: without a key 401 (unless the
    spec says it needs none), with the read-only key 403 exactly where the spec documents a 403."""
    ck = SpecChecker(SPEC)
    errors = []
    before = keyed.session.get(keyed.url("/stats"), headers=bearer(KEY)).json()["count"]
    for template, method, op in spec_operations():
        path = concrete(template)
        security = op.get("security", SPEC["security"])
        open_ = security == [] or {} in security
        r = call(keyed, method, path)
        if open_:
            if r.status_code in (401, 403):
                errors.append(f"{method} {path}: {r.status_code} without a key, but the spec says it needs none")
        elif r.status_code != 401:
            errors.append(f"{method} {path}: {r.status_code} without a key (expected 401)")
        errors += ck.check(r)
        if "401" not in op["responses"] and security != []:
            errors.append(f"{method} {template}: the spec documents no 401")
        r = call(keyed, method, path, {"api-key": READ_KEY})
        documented = "403" in op["responses"]
        if documented and r.status_code != 403:
            errors.append(f"{method} {path}: {r.status_code} with the read-only key (the spec documents 403)")
        if not documented and r.status_code in (401, 403):
            errors.append(f"{method} {path}: {r.status_code} with the read-only key (the spec says it reads)")
        errors += ck.check(r)
    assert not errors, "\n".join(errors)
    # Nothing the read-only key was refused changed anything; the collection still exists.
    after = requests.get(keyed.url("/stats"), headers=bearer(KEY), timeout=15).json()["count"]
    assert after == before
    assert requests.get(keyed.url("/collections/books"), headers=bearer(READ_KEY), timeout=15).status_code == 200


def test_read_only_key_reads_and_cannot_write(keyed):
    ro = {"api-key": READ_KEY}
    for prefix in ("", "/collections/books"):
        reads = [
            ("GET", f"{prefix}/vectors/1", None), ("HEAD", f"{prefix}/vectors/1", None), ("GET", f"{prefix}/stats", None),
            ("GET", f"{prefix}/vectors?limit=5", None), ("GET", f"{prefix}/indexes", None),
            ("POST", f"{prefix}/search", {"vector": [1, 0, 0, 0], "k": 1}),
            ("POST", f"{prefix}/search/batch", {"queries": [[1, 0, 0, 0]], "k": 1}),
            ("POST", f"{prefix}/count", {}), ("POST", f"{prefix}/vectors/get", {"ids": [1]}),
        ]
        for method, path, body in reads:
            r = requests.request(method, keyed.url(path), json=body, headers=ro, timeout=15)
            assert r.status_code == 200, (method, path, r.status_code, r.text)
        writes = [
            ("POST", f"{prefix}/vectors", {"id": 9, "vector": [1, 1, 1, 1]}), ("DELETE", f"{prefix}/vectors/1", None),
            ("POST", f"{prefix}/vectors/delete", {"ids": [1]}), ("POST", f"{prefix}/flush", None),
            ("POST", f"{prefix}/checkpoint", None), ("POST", f"{prefix}/index/rebuild", None),
            ("PUT", f"{prefix}/indexes/lang", {"type": "keyword"}), ("DELETE", f"{prefix}/indexes/lang", None),
        ]
        for method, path, body in writes:
            r = requests.request(method, keyed.url(path), json=body, headers=ro, timeout=15)
            problem = assert_problem(r, 403, "forbidden")
            assert READ_KEY not in r.text, problem
        assert requests.get(keyed.url(f"{prefix}/vectors/1"), headers=ro, timeout=15).status_code == 200
        assert requests.get(keyed.url(f"{prefix}/indexes"), headers=ro, timeout=15).json()["indexes"] == []
    assert_problem(requests.put(keyed.url("/collections/other"), json={"dimension": 4}, headers=ro, timeout=15), 403, "forbidden")
    assert_problem(requests.delete(keyed.url("/collections/books"), headers=ro, timeout=15), 403, "forbidden")
    names = [c["name"] for c in requests.get(keyed.url("/collections"), headers=ro, timeout=15).json()["collections"]]
    assert names == ["default", "books"]
    # An unknown route or method needs a key, then answers as without keys.
    assert_problem(requests.get(keyed.url("/nope"), timeout=15), 401, "unauthorized")
    assert_problem(requests.get(keyed.url("/nope"), headers=ro, timeout=15), 404)
    assert_problem(requests.put(keyed.url("/vectors"), headers=ro, timeout=15), 405, "method-not-allowed")


def send_head_only(srv, head: bytes, timeout: float = 5.0) -> tuple[int, dict, bytes, float]:
    """Sends only a request head announcing a large body; returns the answer and the seconds it took."""
    started = time.monotonic()
    status, headers, body = raw_http("127.0.0.1", srv.port, head, timeout=timeout)
    return status, headers, body, time.monotonic() - started


@pytest.mark.parametrize("credential,status", [(None, 401), (f"api-key: {WRONG}", 401), (f"api-key: {READ_KEY}", 403)])
def test_refusal_comes_before_the_body_is_read(keyed, credential, status):
    """A 60 MB Content-Length (under --max-body-bytes) with no, a wrong or the read-only key: answered from the
    head alone, without one byte of the body sent."""
    lines = ["POST /vectors HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Content-Length: 60000000"]
    if credential:
        lines.append(credential)
    code, headers, body, seconds = send_head_only(keyed, ("\r\n".join(lines) + "\r\n\r\n").encode())
    assert code == status, (code, body[:300])
    assert headers["content-type"].startswith("application/problem+json")
    if status == 401:
        assert headers["www-authenticate"].startswith(REALM)
    assert seconds < 5
    # The same with the full key would wait for the body: the server reads it (no answer while none is sent).
    with socket.create_connection(("127.0.0.1", keyed.port), timeout=1.0) as s:
        s.sendall(("\r\n".join(lines[:4] + [f"api-key: {KEY}"]) + "\r\n\r\n").encode())
        with pytest.raises(socket.timeout):
            s.recv(100)


def test_probes_open_by_default_and_behind_the_key_with_auth_metrics(start_server):
    srv = start_server(env=KEYS_ENV)
    for path in PROBES + ("/health/live",):
        assert requests.get(srv.url(path), timeout=15).status_code == 200, path
    srv.stop()

    protected = start_server(data_dir=srv.data_dir, env={**KEYS_ENV, "LYNX_AUTH_METRICS": "true"}, wait=False)
    protected.wait_listening()
    wait_until(lambda: requests.get(protected.url("/health/ready"), headers=bearer(READ_KEY), timeout=5).status_code == 200,
               timeout=30, what="ready")
    ck = SpecChecker(SPEC)
    for path in PROBES:
        r = requests.get(protected.url(path), timeout=15)
        assert_problem(r, 401, "unauthorized")
        assert not ck.check(r), ck.check(r)
        for key in (KEY, READ_KEY):
            assert requests.get(protected.url(path), headers=bearer(key), timeout=15).status_code == 200, path
    r = requests.get(protected.url("/health/live"), timeout=15)
    assert r.status_code == 200 and r.json() == {"status": "live"}


def test_refusals_are_counted_and_keys_appear_nowhere(keyed):
    for _ in range(3):
        assert call(keyed, "GET", "/stats", bearer(WRONG)).status_code == 401
    assert call(keyed, "POST", "/collections/books/vectors", {"api-key": READ_KEY}).status_code == 403
    text = requests.get(keyed.url("/metrics"), timeout=15).text
    assert re.search(r'lynx_http_requests_total\{route="/stats",method="GET",code="401"\} 3\b', text), text[-3000:]
    assert re.search(r'lynx_http_requests_total\{route="/collections/\{collection\}/vectors",method="POST",code="403"\} 1\b', text)
    log = keyed.log_text()
    assert '"/stats"' in log or "route=/stats" in log, "the debug request lines are missing"
    for secret in (KEY, READ_KEY, WRONG):
        assert secret not in text and secret not in log, f"a key appears in /metrics or the log"


def test_no_key_on_a_public_address_refuses_to_start(tmp_path):
    for host in ("0.0.0.0", "::"):
        p = run_lynxd(["--host", host, "--port", "0", "--data-dir", str(tmp_path / "d"), "--dimension", "4"])
        lines = p.stderr.decode().strip().splitlines()
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert len(lines) == 1 and f"refusing to listen on {host} without an API key" in lines[0], lines
        assert "--allow-unauthenticated" in lines[0]
    # The container's way: the address from the environment.
    p = run_lynxd(["--port", "0", "--data-dir", str(tmp_path / "d")], env={"LYNX_HOST": "0.0.0.0"})
    assert p.returncode == 2 and b"refusing to listen on 0.0.0.0" in p.stderr, p.stderr
    assert not (tmp_path / "d").exists(), "the refusal came after the data directory was touched"


def test_public_address_starts_with_a_key_or_when_allowed(start_server, tmp_path):
    def start(*extra, env=None):
        srv = start_server(defaults=False, env=env, wait=False,
                           extra_args=["--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d"),
                                       "--dimension", "4", "--index", "flat", *extra])
        srv.wait_listening()
        srv.host = "127.0.0.1"   # listening on every address; the test talks to loopback only
        return srv
    srv = start("--allow-unauthenticated")
    srv.wait_ready()
    assert srv.post("/vectors", json={"id": 1, "vector": [1, 2, 3, 4]}).status_code == 200
    srv.stop()
    srv = start(env={"LYNX_API_KEY": KEY})
    srv.wait_ready()
    assert_problem(srv.get("/vectors/1"), 401, "unauthorized")
    assert srv.get("/vectors/1", headers={"api-key": KEY}).json()["vector"] == [1, 2, 3, 4]
    srv.stop()
    # Loopback addresses need no key: all of 127.0.0.0/8.
    other = start_server(defaults=False, extra_args=["--host", "127.0.0.2", "--port", "0", "--data-dir",
                                                     str(tmp_path / "e"), "--dimension", "4"])
    assert other.get("/health/live").status_code == 200


def test_key_files(start_server, tmp_path):
    key_file = tmp_path / "api-key"
    key_file.write_text(f"  {KEY}  \r\nsecond line is ignored\n")
    ro_file = tmp_path / "ro-key"
    ro_file.write_text(READ_KEY + "\n")
    srv = start_server(api_key_file=key_file, read_only_api_key_file=ro_file)
    assert_problem(srv.get("/stats"), 401)
    assert srv.get("/stats", headers=bearer(KEY)).status_code == 200
    assert_problem(srv.post("/flush", headers=bearer(READ_KEY)), 403, "forbidden")
    assert KEY not in srv.log_text() and READ_KEY not in srv.log_text()
    srv.stop()
    srv = start_server(env={"LYNX_API_KEY_FILE": str(key_file)})
    assert srv.get("/stats", headers={"api-key": KEY}).status_code == 200


@pytest.mark.parametrize("args,env,message", [
    (["--api-key-file", "/nonexistent/key"], {}, "--api-key-file /nonexistent/key: No such file or directory"),
    (["--read-only-api-key-file", "EMPTY"], {"LYNX_API_KEY": KEY}, "--read-only-api-key-file is empty"),
    ([], {"LYNX_API_KEY": KEY, "LYNX_API_KEY_FILE": "/x"}, "give LYNX_API_KEY or LYNX_API_KEY_FILE, not both"),
    ([], {"LYNX_READ_ONLY_API_KEY": READ_KEY}, "--read-only-api-key needs --api-key"),
    ([], {"LYNX_API_KEY": KEY, "LYNX_READ_ONLY_API_KEY": KEY}, "--read-only-api-key must differ from --api-key"),
    ([], {"LYNX_API_KEY": "two words"}, "LYNX_API_KEY: a key must be printable ASCII without spaces"),
    (["--auth-metrics"], {}, "--auth-metrics needs --api-key"),
    ([], {"LYNX_API_KEY": KEY, "LYNX_AUTH_METRICS": "maybe"}, "LYNX_AUTH_METRICS='maybe' is not true or false"),
])
def test_bad_key_settings_exit_2_with_one_line(tmp_path, args, env, message):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    args = [str(empty) if a == "EMPTY" else a for a in args]
    p = run_lynxd(["--port", "0", "--data-dir", str(tmp_path / "d"), *args], env=env)
    err = p.stderr.decode()
    assert p.returncode == 2, (p.returncode, err)
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "two words" not in err and KEY not in err, "a key was echoed"


def test_readme_access_control_example(start_server, tmp_path):
    """The README's access-control block, line by line, against a server started as its first line says; each
    curl prints the status its comment shows."""
    import pathlib
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```sh\n(# lynxd started with --api-key-file key\.txt.*?)```", readme, flags=re.S)
    assert block, "the README's access-control example is missing"
    lines = block.group(1).strip().splitlines()
    (tmp_path / "key.txt").write_text(KEY + "\n")
    (tmp_path / "ro-key.txt").write_text(READ_KEY + "\n")
    srv = start_server(api_key_file=tmp_path / "key.txt", read_only_api_key_file=tmp_path / "ro-key.txt")
    setup = lines[1]
    assert setup.startswith("export KEY=")
    checked = 0
    for line in lines[2:]:
        command, _, expected = line.partition("#")
        run = setup + "; " + command.replace("localhost:7311", f"127.0.0.1:{srv.port}")
        out = subprocess.run(["bash", "-c", run], capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert out.returncode == 0, (line, out.stderr)
        assert out.stdout.strip() == expected.strip(), (line, out.stdout)
        checked += 1
    assert checked >= 4

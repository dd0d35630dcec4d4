"""Requests that are not valid HTTP/1.x, which libmicrohttpd refuses before Lynx sees them.

libmicrohttpd answers these itself, with the right status code and its own short HTML body (0.9.75 offers no
hook to replace it), and closes the connection. README ("Errors") and the spec's description say so. What
these tests hold the server to: the status code, a closed connection, and nothing changed in the store; and
that requests inside the documented limits (a header block up to 32 KiB) are served normally.
"""
from __future__ import annotations

import json
import socket

import pytest

from lynx_helpers import raw_http, state_snapshot, assert_unchanged

pytestmark = pytest.mark.live

BODY = b'{"id": 100, "vector": [1, 2, 3, 4]}'


def post(extra_headers: bytes, body: bytes = BODY, length: bytes | None = None) -> bytes:
    cl = b"Content-Length: " + (length if length is not None else str(len(body)).encode()) + b"\r\n"
    return (b"POST /vectors HTTP/1.1\r\nHost: lynx\r\nContent-Type: application/json\r\n" + cl
            + extra_headers + b"\r\n" + body)


@pytest.fixture
def seeded(server):
    server.upsert([{"id": 1, "vector": [1, 0, 0, 0]}])
    return server


def read_until_closed(server, data: bytes) -> bytes:
    """Sends `data` and returns what comes back before the server closes the connection (a socket.timeout
    if it keeps it open for 10 s)."""
    got = b""
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(data)
        try:
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
    return got


@pytest.mark.parametrize("name,data,status", [
    ("header block over 32 KiB", post(b"X-Big: " + b"x" * 40_000 + b"\r\n"), 431),
    ("HTTP version 2.0", b"GET /health HTTP/2.0\r\nHost: lynx\r\n\r\n", 505),
    ("Content-Length not a number", post(b"", length=b"abc"), 400),
    ("malformed chunked body",
     b"POST /vectors HTTP/1.1\r\nHost: lynx\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"ZZ\r\n" + BODY + b"\r\n0\r\n\r\n", 400),
])
def test_refused_by_libmicrohttpd_with_status_and_nothing_changed(seeded, name, data, status):
    before = state_snapshot(seeded, [1, 100])
    got, headers, _ = raw_http(seeded.host, seeded.port, data)
    assert got == status, f"{name}: status {got}, expected {status}"
    assert headers.get("connection", "").lower() == "close", f"{name}: {headers}"
    assert_unchanged(seeded, before)
    assert seeded.get("/health").status_code == 200


def test_garbage_request_line_is_dropped_and_changes_nothing(seeded):
    before = state_snapshot(seeded, [1, 100])
    got = read_until_closed(seeded, b"GARBAGE\r\n\r\n" + BODY)
    assert got == b"" or got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert_unchanged(seeded, before)


def test_header_block_just_under_32_kib_is_served(seeded):
    status, headers, body = raw_http(seeded.host, seeded.port, post(b"X-Big: " + b"x" * 30_000 + b"\r\n"))
    assert status == 200, body
    assert json.loads(body)["upserted"] == 1
    assert seeded.get("/vectors/100").status_code == 200

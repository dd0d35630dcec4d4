"""HTTP/1.1 to one lynxd: keep-alive connections, TLS, the API key, retries, problem answers as exceptions.

The standard library's ``http.client`` does the HTTP: lynxd speaks plain HTTP/1.1 with JSON bodies, so a
connection per thread, kept alive, is all a client needs, and the package depends on nothing.

Thread safety: one Transport may be used from many threads at once; each thread has its own connection
(``threading.local``), so requests never interleave on a socket.

A kept-alive connection that lynxd closed while it was idle (``--connection-timeout``, ``--request-timeout``,
or eviction past ``--max-connections``) is noticed before it is reused (the socket reads as closed) and opened
again. Should the close still race the request, the request is sent once more on a fresh connection when no
byte of an answer had arrived: lynxd closes only connections that wait for a request, never one it is
answering, so the first copy was not acted on.
"""
from __future__ import annotations

import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Collection, Dict, Mapping, Optional, Union

from ._retry import RetryPolicy
from .errors import TransportError, UnexpectedResponseError, error_from_response

USER_AGENT = "lynx-client-python/0.1.0"
API_KEY_HEADERS = ("authorization", "api-key")
_STREAM_CHUNK = 1 << 20
# Failures of a reused connection that mean lynxd had closed it before reading the request.
_STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)

Verify = Union[bool, str, ssl.SSLContext]


@dataclass
class Response:
    status: int
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise UnexpectedResponseError(f"{what}: HTTP {self.status} with a body that is not JSON: "
                                          f"{self.body[:200]!r}", status=self.status, headers=self.headers) from e

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def ssl_context_for(verify: Verify) -> ssl.SSLContext:
    """True: the system's CAs; a path: that CA file (or directory of hashed CA files); False: no check at all
    (the certificate and the host name are not verified); an SSLContext: used as it is."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        return ssl.create_default_context()
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


class _HTTPConnection(http.client.HTTPConnection):
    """With TCP_NODELAY, as urllib3 sets it: http.client writes the head and the body of a request apart, and
    Nagle's algorithm would hold the body back until the head is acknowledged."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Transport:
    def __init__(self, url: str, *, api_key: Optional[str], api_key_header: str, timeout: float,
                 retry: RetryPolicy, verify: Verify) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http://HOST[:PORT][/PATH] or https://..., not {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"url takes no query or fragment: {url!r}")
        if api_key_header.lower() not in API_KEY_HEADERS:
            raise ValueError(f"api_key_header must be one of {API_KEY_HEADERS}, not {api_key_header!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._retry = retry
        self._ssl = ssl_context_for(verify) if self._https else None
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key is not None:
            if api_key_header.lower() == "authorization":
                self._headers["Authorization"] = f"Bearer {api_key}"
            else:
                self._headers["api-key"] = api_key
        self._local = threading.local()
        # Weak: a thread that ends takes its connection with it; close() reaches those still alive.
        self._all_connections: "weakref.WeakSet[http.client.HTTPConnection]" = weakref.WeakSet()
        self._all_lock = threading.Lock()

    # ------------------------------------------------------------------ connections

    def _new_connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = _HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._ssl)
        else:
            conn = _HTTPConnection(self._host, self._port, timeout=self._timeout)
        with self._all_lock:
            self._all_connections.add(conn)
        return conn

    def _connection(self) -> "tuple[http.client.HTTPConnection, bool]":
        """This thread's connection and whether it carried a request before."""
        conn: Optional[http.client.HTTPConnection] = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection()
            self._local.conn = conn
            return conn, False
        if conn.sock is None:
            return conn, False
        readable, _, _ = select.select([conn.sock], [], [], 0)
        if readable:  # an idle kept-alive socket reads only when lynxd closed it
            conn.close()
            return conn, False
        return conn, True

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Closes every connection, of every thread; a later request opens a new one."""
        with self._all_lock:
            conns = list(self._all_connections)
            self._all_connections = weakref.WeakSet()
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # ------------------------------------------------------------------ requests

    def path(self, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
        target = self._prefix + path
        if query:
            params = {k: ("true" if v else "false") if isinstance(v, bool) else v
                      for k, v in query.items() if v is not None}
            if params:
                target += "?" + urllib.parse.urlencode(params)
        return target

    def request(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None,
                json_body: Any = None, has_body: bool = False, ok: Collection[int] = (200,),
                retry: bool = True, sink: Optional[BinaryIO] = None) -> Response:
        """Sends the request, sends it again on a 503 with Retry-After (when ``retry``), and returns the
        answer when its status is in ``ok`` and it is not a problem document; raises the problem otherwise.
        With ``sink``, a successful body is written there in chunks instead of being held."""
        target = self.path(path, query)
        what = f"{method} {target}"
        headers = dict(self._headers)
        payload: Optional[bytes] = None
        if json_body is not None or has_body:
            payload = json.dumps({} if json_body is None else json_body, separators=(",", ":"),
                                 allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            response = self._exchange(method, target, payload, headers, what,
                                      lambda status: sink if sink is not None and status in ok else None)
            if response.status in ok and response.media_type != "application/problem+json":
                return response
            delay = self._retry.delay_before_retry(attempt, response.status,
                                                   response.headers.get("retry-after")) if retry else None
            if delay is None:
                raise error_from_response(response.status, response.headers.get("content-type", ""),
                                          response.body, response.headers, what)
            time.sleep(delay)
            attempt += 1

    def _exchange(self, method: str, target: str, payload: Optional[bytes], headers: Dict[str, str], what: str,
                  sink_for: Callable[[int], Optional[BinaryIO]]) -> Response:
        for fresh_attempt in (False, True):
            conn, reused = self._connection()
            try:
                conn.request(method, target, body=payload, headers=headers)
                answer = conn.getresponse()
            except _STALE_CONNECTION_ERRORS as e:
                self._drop_connection()
                if reused and not fresh_attempt:
                    continue
                raise TransportError(f"{what}: the connection to {self.url} failed: {e!r}") from e
            except (OSError, http.client.HTTPException) as e:
                self._drop_connection()
                raise TransportError(f"{what}: no answer from {self.url}: {e!r}") from e
            try:
                return self._read(answer, sink_for(answer.status))
            except (OSError, http.client.HTTPException) as e:
                self._drop_connection()
                raise TransportError(f"{what}: the answer from {self.url} broke off: {e!r}") from e
        raise AssertionError("unreachable")

    @staticmethod
    def _read(answer: http.client.HTTPResponse, sink: Optional[BinaryIO]) -> Response:
        headers = {k.lower(): v for k, v in answer.getheaders()}
        if sink is None:
            return Response(answer.status, headers, answer.read())
        while True:
            chunk = answer.read(_STREAM_CHUNK)
            if not chunk:
                break
            sink.write(chunk)
        return Response(answer.status, headers, b"")


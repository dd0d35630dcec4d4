"""Healthy keep-alive connections must never be closed by the request deadline (issue 19, D3).

Starts lynxd (Flat, dimension 8, a fresh data directory), opens CONNECTIONS keep-alive connections from 127.0.0.1
and keeps one request in flight on each for SECONDS: single-record upserts (ids in a bounded range, so the store
stays small) and k=10 searches, alternating per connection. Every request is sent as soon as the previous answer
is read, so no connection ever comes near --request-timeout. Then it reports:
  - requests answered, by kind, and any status other than 200;
  - connections the client saw closed (EOF or reset before an answer; each is reopened);
  - the server's own count, lynx_http_connections_closed_total by reason from /metrics, and the `seconds` of every
    "no whole request within --request-timeout" line in its log (a wrapped clock difference shows as ~1.8e10).
Any close is a failure (exit status 1). Loopback only; one thread, one selector; the run ends at SECONDS however
the server behaves, and lynxd is killed if it does not stop.

    python bench/http/keepalive_deadline.py --bin .build/release/lynxd [--connections 200] [--seconds 60]
"""
import argparse
import errno
import json
import os
import re
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pending_lib as lib  # noqa: E402

DIM, IDS = 8, 10_000
DEADLINE_LINE = re.compile(r"no whole request within --request-timeout.*?seconds=(\d+)")
CLOSED_METRIC = re.compile(r'^lynx_http_connections_closed_total\{reason="([^"]+)"\} (\S+)$', re.M)


def request(kind, n):
    if kind == "upsert":
        vector = [((n * 31 + i * 7) % 97) / 97 for i in range(DIM)]
        body = json.dumps({"id": n % IDS, "vector": vector}).encode()
        path = b"/vectors"
    else:
        body = json.dumps({"vector": [((n + i) % 13) / 13 for i in range(DIM)], "k": 10}).encode()
        path = b"/search"
    return (b"POST " + path + b" HTTP/1.1\r\nHost: lynx\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


class Connection:
    def __init__(self, port, index):
        self.port, self.index, self.sent_count = port, index, 0
        self.open()

    def open(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.kind, self.out, self.buf = None, b"", b""

    def next_request(self):
        self.kind = "upsert" if (self.index + self.sent_count) % 2 == 0 else "search"
        self.out = request(self.kind, self.index * 1_000_003 + self.sent_count)
        self.sent_count += 1

    def answer(self):
        """(status, rest of the buffer) once a whole answer is in, else None."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1")
        length = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1))
        if len(self.buf) < head_end + 4 + length:
            return None
        status = int(head.split(" ", 2)[1])
        self.buf = self.buf[head_end + 4 + length:]
        return status


def run(port, connections, seconds):
    sel = selectors.DefaultSelector()
    conns = [Connection(port, i) for i in range(connections)]
    answered = {"upsert": 0, "search": 0}
    other_status, client_closes = {}, 0
    for c in conns:
        c.next_request()
        sel.register(c.sock, selectors.EVENT_WRITE, c)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, events in sel.select(timeout=0.5):
            c = key.data
            try:
                if events & selectors.EVENT_WRITE and c.out:
                    c.out = c.out[c.sock.send(c.out):]
                    if not c.out:
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                data = c.sock.recv(65536)
                if not data:
                    raise ConnectionResetError(errno.ECONNRESET, "closed by the server")
                c.buf += data
                status = c.answer()
                if status is None:
                    continue
                answered[c.kind] += 1
                if status != 200:
                    other_status[status] = other_status.get(status, 0) + 1
                c.next_request()
                sel.modify(c.sock, selectors.EVENT_WRITE, c)
            except (ConnectionResetError, BrokenPipeError):
                client_closes += 1
                sel.unregister(c.sock)
                c.sock.close()
                c.open()
                c.next_request()
                sel.register(c.sock, selectors.EVENT_WRITE, c)
    for c in conns:
        c.sock.close()
    return answered, other_status, client_closes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--request-timeout", default="30")
    args = ap.parse_args()
    lib.BIN = os.path.abspath(args.bin)
    data_dir = lib.scratch_dir("lynx-keepalive-")
    server = lib.Lynxd(data_dir, ["--dimension", str(DIM), "--index", "flat", "--metric", "l2",
                                  "--request-timeout", args.request_timeout])
    try:
        server.start()
        server.wait_ready(deadline_s=60)
        print(lib.env_line(), flush=True)
        started = time.monotonic()
        answered, other_status, client_closes = run(server.port, args.connections, args.seconds)
        elapsed = time.monotonic() - started
        status, metrics = lib.call(lib.conn(server.port), "GET", "/metrics")
        server_closes = {reason: float(v) for reason, v in CLOSED_METRIC.findall(metrics.decode())}
        server.term(timeout=30)
        log = open(server.log_path, errors="replace").read()
        deadline_seconds = [int(s) for s in DEADLINE_LINE.findall(log)]
    finally:
        server.stop_quiet()
        lib.rm(data_dir)
    total = sum(answered.values())
    print(f"connections={args.connections} seconds={elapsed:.1f} requests={total} upserts={answered['upsert']} "
          f"searches={answered['search']} per_second={total / elapsed:.0f} other_status={other_status} "
          f"client_seen_closes={client_closes} server_closes={server_closes} "
          f"deadline_log_seconds={deadline_seconds}")
    failed = client_closes or any(server_closes.values()) or deadline_seconds or other_status
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

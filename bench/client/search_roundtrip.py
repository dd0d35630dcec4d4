"""Round trip of one search through lynx_client against the same search as raw HTTP, through http.client (the
body encoded with json.dumps and the answer parsed with json.loads, as code without the client would) and
through a requests Session, on one keep-alive connection each, alternating call by call in the same run, for a
bounded time. Prints the median and p90 of each and the ratios of the medians. Needs requests.

Usage: python bench/client/search_roundtrip.py URL [SECONDS]   (a lynxd on 127.0.0.1 whose `default` collection
has 64-d records, filled with 1,000 when empty), or python bench/client/search_roundtrip.py --start LYNXD
[SECONDS], which starts a Flat 64-d lynxd in a scratch directory and stops it after. The test suite prints the
same figure (Tests/integration/test_python_client.py).
"""
from __future__ import annotations

import http.client
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

from lynx_client import Client

DIM, RECORDS, K = 64, 1000, 10


def fill(client: Client, collection: str = "default", seed: int = 7) -> None:
    rng = random.Random(seed)
    client.upsert(collection, ids=list(range(RECORDS)),
                  vectors=[[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(RECORDS)])


def measure(url: str, seconds: float = 3.0, max_calls: int = 20000) -> dict:
    """Alternates client.search, a raw POST /search through http.client and the same through a requests
    Session, all of the same query, until ``seconds`` pass (or ``max_calls`` rounds); returns the medians and
    p90s in microseconds and the ratios of the client's median to each raw one."""
    import requests

    rng = random.Random(11)
    query = [rng.uniform(-1, 1) for _ in range(DIM)]
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    session = requests.Session()
    headers = {"Content-Type": "application/json"}

    def raw_http_client() -> list:
        conn.request("POST", "/search", body=json.dumps({"vector": query, "k": K}).encode(), headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        assert answer.status == 200, body
        return json.loads(body)["results"]

    def raw_requests() -> list:
        answer = session.post(url + "/search", json={"vector": query, "k": K}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["results"]

    times: dict = {"client": [], "http.client": [], "requests": []}
    with Client(url) as client:
        def via_client() -> list:
            return client.search("default", query, k=K)

        calls = {"client": via_client, "http.client": raw_http_client, "requests": raw_requests}
        expected = [hit.id for hit in via_client()]  # also opens every connection before timing
        assert [r["id"] for r in raw_http_client()] == expected == [r["id"] for r in raw_requests()]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(times["client"]) < max_calls:
            for name, call in calls.items():
                t0 = time.perf_counter()
                results = call()
                times[name].append((time.perf_counter() - t0) * 1e6)
                assert len(results) == K
    conn.close()
    session.close()

    figures: dict = {"rounds": len(times["client"])}
    for name, xs in times.items():
        figures[f"{name}_median_us"] = round(statistics.median(xs), 1)
        figures[f"{name}_p90_us"] = round(sorted(xs)[int(len(xs) * 0.9)], 1)
    for name in ("http.client", "requests"):
        figures[f"client_vs_{name}"] = round(figures["client_median_us"] / figures[f"{name}_median_us"], 3)
    return figures


def describe(figures: dict) -> str:
    return (f"search round trip, {DIM}-d Flat of {RECORDS}, k={K}, {figures['rounds']} alternating rounds, median "
            f"(p90) us: lynx_client {figures['client_median_us']} ({figures['client_p90_us']}), raw http.client "
            f"{figures['http.client_median_us']} ({figures['http.client_p90_us']}), raw requests "
            f"{figures['requests_median_us']} ({figures['requests_p90_us']}); client/http.client "
            f"{figures['client_vs_http.client']}, client/requests {figures['client_vs_requests']}")


def _start(binary: str) -> "tuple[subprocess.Popen, str]":
    data = tempfile.mkdtemp(prefix="lynx-roundtrip-")
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", data, "--dimension",
                             str(DIM), "--index", "flat"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "listening on " in line:
            url = line.split("listening on ")[1].split()[0]
            subprocess.Popen(["cat"], stdin=proc.stderr, stdout=subprocess.DEVNULL)  # keeps the pipe drained
            return proc, url
    proc.kill()
    raise SystemExit("lynxd did not start within 30 s")


def main(argv: list) -> None:
    seconds = float(argv[-1]) if len(argv) > 2 and argv[-1].replace(".", "").isdigit() else 3.0
    proc = None
    if argv[1] == "--start":
        proc, url = _start(argv[2])
    else:
        url = argv[1]
    try:
        with Client(url) as client:
            if client.count("default") == 0:
                fill(client)
        figures = measure(url, seconds)
        print(json.dumps(figures))
        print(describe(figures))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main(sys.argv)

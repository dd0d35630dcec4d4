"""POST /vectors bodies as the fast reader sees them (RequestDecoder+FastRecords, JSONReader): every valid shape is
stored exactly as the tree decoder would store it, and vector components are the correctly rounded float32 of
their decimal literal, also right next to a float32 rounding midpoint (where rounding through float64 goes wrong)."""
from __future__ import annotations

import json
import random
import struct
from fractions import Fraction

import pytest

pytestmark = pytest.mark.live


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def from_bits(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


def f32_exact(literal: str) -> float:
    """The float32 nearest to the exact decimal value of `literal` (ties to even), without double rounding."""
    if literal.startswith("-"):
        return -f32_exact(literal[1:])
    exact = Fraction(literal)
    guess = f32_bits(float(literal))  # within one float32 step of the answer
    best = None
    for b in (guess - 1, guess, guess + 1):
        if b < 0 or b >= 0x7F800000:
            continue
        err = abs(Fraction(from_bits(b)) - exact)
        if best is None or err < best[0] or (err == best[0] and b % 2 == 0):
            best = (err, b)
    return from_bits(best[1])


def literals_next_to_midpoints(n: int, seed: int) -> list[str]:
    """Shortest float64 literals of exact float32 midpoints and their neighbours: each rounds to float64 exactly
    onto a midpoint while its own value lies just off it."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        f = from_bits(rng.randrange(0x1E000000, 0x4E000000))  # positive float32 in ~1e-21 ... 5e8
        up = from_bits(f32_bits(f) + 1)
        mid = (f + up) / 2  # exact in float64
        out.append(repr(mid))
    return out


def test_valid_shapes_are_stored_as_sent(server):
    bodies = [
        (' { "vector" : [1e0, -0.5, 2.5E-1, 0.30000001192092896] ,\n "id":7 } ', 7, None),
        ('{"\\u0069d": 8, "vector": [0, -0, 1, 2], "metadata": null}', 8, None),
        ('{"id": -0, "vector": [1.5, 2.5, 3.5, 4.5], "metadata": {"t": "\\u00e9", "n": [1, {"d": null}]}}', 0,
         {"t": "é", "n": [1, {"d": None}]}),
        ('{"metadata": {}, "id": 18446744073709551615, "vector": [1e-46, 4.2e9, -1e-7, 123456789]}',
         18446744073709551615, {}),
    ]
    for body, rid, meta in bodies:
        r = server.post_raw("/vectors", body)
        assert r.status_code == 200, (body, r.text)
        got = server.get(f"/vectors/{rid}").json()
        literals = json.loads(body, parse_float=str, parse_int=str)["vector"]
        assert [f32_bits(x) for x in got["vector"]] == [f32_bits(f32_exact(x)) for x in literals], body
        assert got.get("metadata") == meta, body


def test_components_next_to_float32_midpoints_round_correctly(start_server):
    srv = start_server(dimension=64)
    literals = literals_next_to_midpoints(64 * 8, seed=5)
    records = [f'{{"id": {i}, "vector": [{",".join(literals[i * 64:(i + 1) * 64])}]}}' for i in range(8)]
    # Half as single records, half in one batch: both go through the reader.
    for body in records[:4]:
        assert srv.post_raw("/vectors", body).status_code == 200
    assert srv.post_raw("/vectors", '{"vectors": [' + ",".join(records[4:]) + "]}").status_code == 200
    wrong = []
    for i in range(8):
        got = srv.get(f"/vectors/{i}").json()["vector"]
        for lit, value in zip(literals[i * 64:(i + 1) * 64], got):
            if f32_bits(value) != f32_bits(f32_exact(lit)):
                wrong.append(lit)
    assert not wrong, f"{len(wrong)} components rounded wrongly, e.g. {wrong[:3]}"


def test_bodies_the_reader_declines_get_the_tree_decoders_errors(server):
    cases = [
        ('{"id": 1, "id": 2, "vector": [1, 2, 3, 4]}', 400, "duplicate key"),
        ('{"id": 1, "vector": [1, 2, 3, 1e39]}', 400, "overflows a 32-bit float"),
        ('{"id": 1, "vector": [1, 2, 3, "4"]}', 400, "vector[3]"),
        ('{"id": 1.5, "vector": [1, 2, 3, 4]}', 400, "id"),
        ('{"id": 1, "vector": [1, 2, 3, 4], "extra": true}', 400, "extra"),
        ('{"id": 1, "vector": [1, 2, 3]}', 422, "expected 4 numbers"),
        ('{"id": 1, "vector": [1, 2, 3, 4]} x', 400, "after the JSON value"),
    ]
    for body, status, needle in cases:
        r = server.post_raw("/vectors", body)
        assert r.status_code == status, (body, r.text)
        assert needle in r.json()["detail"], (body, r.json())
    assert server.stats()["count"] == 0

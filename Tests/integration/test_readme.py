"""The README's curl examples, run as a new user would: in order, against a fresh 4-d server, with the
port of the test server in place of 7311. Each `sh` block that starts with `curl` is followed by the block
that shows its output; the output must match (JSON compared as values, with run-dependent timings ignored)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
VOLATILE = {"duration_seconds", "checkpoint_age_seconds", "created_unix_ms"}

pytestmark = pytest.mark.live


def examples() -> list[tuple[str, str, str]]:
    """(command, output language, expected output) for every curl example of the README."""
    text = README.read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)
    found = []
    for (lang, body), (next_lang, next_body) in zip(blocks, blocks[1:]):
        if lang == "sh" and body.lstrip().startswith("curl "):
            found.append((body.strip(), next_lang, next_body.strip()))
    return found


def strip_volatile(value):
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def test_readme_has_an_example_for_every_route():
    commands = " ".join(cmd for cmd, _, _ in examples())
    for route in ["/vectors", "/vectors/1", "/vectors?", "/vectors/get", "/vectors/delete", "/count", "/search",
                  "/search/batch", "/flush", "/checkpoint", "/index/rebuild", "/stats", "/health", "/metrics",
                  "/indexes", "/indexes/genre",
                  "/collections", "/collections/books", "/collections/books/vectors", "/collections/books/search",
                  "/snapshots", "/snapshots/nightly"]:
        assert f"7311{route}" in commands, f"no README example for {route}"
    assert "-X DELETE" in commands


def test_readme_curl_examples_work_as_shown(start_server):
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (scripts/install-deps.sh --test installs it)")
    srv = start_server(dimension=4, metric="l2", index="flat")
    cases = examples()
    assert len(cases) >= 12
    for command, lang, expected in cases:
        run = command.replace("localhost:7311", f"127.0.0.1:{srv.port}")
        out = subprocess.run(["bash", "-c", run], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, (command, out.stderr)
        got = out.stdout.strip()
        if lang == "json":
            assert strip_volatile(json.loads(got)) == strip_volatile(json.loads(expected)), (command, got)
        else:
            assert got == expected, (command, got)

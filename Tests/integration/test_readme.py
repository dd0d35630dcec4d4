"""The README's curl examples, run as a new user would: in order, against a fresh 4-d server, with the
port of the test server in place of 7311. Each `sh` block that starts with `curl` is followed by the block
that shows its output; the output must match (JSON compared as values, with run-dependent timings and memory
estimates ignored)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lynx_helpers import run_lynxd

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


def strip_volatile(value, within: str = ""):
    """`value` with run-dependent timings dropped, and the byte counts of a `memory` object replaced by their type:
    they are estimates from allocated capacities, and Swift sizes an array's capacity by what malloc gave it, which
    depends on what the process allocated before (one record's index took 140 or 156 bytes in different runs)."""
    if isinstance(value, dict):
        if within == "memory":
            return {k: "bytes" if k.endswith("_bytes") and isinstance(v, int) else v for k, v in value.items()}
        return {k: strip_volatile(v, k) for k, v in value.items() if k not in VOLATILE}
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


# --------------------------------------------------------------------------- the configuration table

HELP_ENTRY_RE = re.compile(r"^  (?:-\w, )?(--[\w-]+)(\s+<[\w-]+>)?")
HELP_ENV_RE = re.compile(r"\(env (LYNX_[A-Z_]+)(?:=true)?(?:; default:? (.*?))?\)\.?$")


def first_word(text: str) -> str:
    """The value a default cell or help text starts with: `384 on first start` and `384, then the manifest's`
    are both 384; `none (plain HTTP)` and `none: a single node` are both none."""
    word = re.match(r"[^\s,;()]+", text.replace("`", "").strip())
    return word.group(0).rstrip(":") if word else ""


def help_flags(text: str) -> dict[str, tuple[str, str]]:
    """flag → (environment variable, default) as `lynxd --help` lists them. A flag without a default in its help
    is off (a switch) or none (an option)."""
    entries: list[list[str]] = []
    switches: set[str] = set()
    in_options = False
    for line in text.splitlines():
        if line.startswith("OPTIONS:"):
            in_options = True
        elif in_options and (m := HELP_ENTRY_RE.match(line)):
            entries.append([m.group(1), line[m.end():].strip()])
            if m.group(2) is None:
                switches.add(m.group(1))
        elif in_options and entries and line.startswith("      "):
            entries[-1][1] += " " + line.strip()
        elif in_options and line.strip() and not line.startswith(" "):
            in_options = False
    flags = {}
    for flag, help_text in entries:
        if flag == "--help":
            continue
        m = HELP_ENV_RE.search(help_text)
        assert m, f"--help of {flag} names no environment variable: {help_text!r}"
        default = first_word(m.group(2)) if m.group(2) else ("off" if flag in switches else "none")
        flags[flag] = (m.group(1), default)
    return flags


def readme_flags(text: str) -> dict[str, tuple[str, str]]:
    """flag → (environment variable, default) as the README's configuration table lists them. A row of several
    flags gives each its own default when the cell lists as many (`16, 200`), else the same one."""
    lines = text.splitlines()
    start = lines.index("| flag | environment | default | meaning |")
    flags = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`(--[\w-]+)`", cells[0])
        envs = re.findall(r"(LYNX_[A-Z_]+)", cells[1])
        parts = cells[2].split(", ")
        defaults = [first_word(p) for p in parts] if len(parts) == len(names) else [first_word(cells[2])] * len(names)
        assert names and len(envs) == len(names), f"README configuration row not understood: {line}"
        for name, env, default in zip(names, envs, defaults):
            flags[name] = (env, default)
    return flags


def test_readme_configuration_table_agrees_with_help(lynxd_bin):
    """Every flag of `lynxd --help` has a row in the README's configuration table with the same environment
    variable and default, and the table lists no other flag. The help text takes each default from the value
    `resolve` uses, so this holds the README to the code."""
    p = run_lynxd(["--help"], env={"COLUMNS": "80"})
    assert p.returncode == 0, p.stderr
    shown = help_flags(p.stdout.decode())
    documented = readme_flags(README.read_text())
    assert len(shown) >= 50, shown
    assert sorted(set(shown) - set(documented)) == [], "flags of --help missing from the README's table"
    assert sorted(set(documented) - set(shown)) == [], "flags in the README's table that --help does not know"
    differ = {f: {"help": shown[f], "README": documented[f]} for f in shown if shown[f] != documented[f]}
    assert differ == {}, "the README's configuration table disagrees with lynxd --help"

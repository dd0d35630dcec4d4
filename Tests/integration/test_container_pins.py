"""The Debian versions docker/Dockerfile pins, checked against what the archive offers: the same bookworm suites
(bookworm, bookworm-updates, bookworm-security) the image's apt uses, through this Debian host's apt. A pin the
archive no longer has fails the image build; this test fails first and names the version to pin instead."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from lynx_helpers import REPO

DOCKERFILE = REPO / "docker" / "Dockerfile"


def pins() -> dict[str, tuple[str, str]]:
    """{package: (version, ARG)} of the runtime stage's `apt-get install "pkg=${ARG}"`, with each ARG's default."""
    text = DOCKERFILE.read_text()
    defaults = dict(re.findall(r"^ARG (\w+_VERSION)=(\S+)$", text, re.M))
    out = {}
    for package, arg in re.findall(r'"([a-z0-9.+-]+)=\$\{(\w+)\}"', text):
        assert arg in defaults, f"{package}'s version ARG {arg} has no default"
        out[package] = (defaults[arg], arg)
    return out


def test_the_runtime_stage_pins_what_it_installs():
    assert set(pins()) == {"libmicrohttpd12", "libcurl4", "curl", "ca-certificates"}, pins()


def _archive_versions(package: str) -> list[tuple[str, str]]:
    """(version, suite line) for each version of `package` in bookworm's suites, from `apt-cache madison`."""
    p = subprocess.run(["apt-cache", "madison", package], capture_output=True, text=True, timeout=60)
    rows = [[c.strip() for c in line.split("|")] for line in p.stdout.splitlines() if line.count("|") >= 2]
    return [(r[1], r[2]) for r in rows if re.search(r"\bbookworm(-updates|-security)?/", r[2])]


@pytest.mark.parametrize("package", sorted(pins()))
def test_pinned_version_is_in_the_archive(package):
    if shutil.which("apt-cache") is None:
        pytest.skip("not a Debian host: no apt-cache to ask the archive")
    offered = _archive_versions(package)
    if not offered:
        pytest.skip(f"this host's apt lists have no bookworm suite offering {package} (run apt-get update on bookworm)")
    pinned, arg = pins()[package]
    versions = [v for v, _ in offered]
    assert pinned in versions, (
        f"docker/Dockerfile pins {package}={pinned}, which the archive no longer offers; it offers "
        f"{', '.join(sorted(set(versions)))}. Build with --build-arg {arg}={versions[0]} "
        f"and update that default in docker/Dockerfile.")

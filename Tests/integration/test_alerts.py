"""docker/alerts.yml is valid (`promtool check rules`) and each rule fires, or stays quiet, as docker/alerts.test.yml
says for its input series (`promtool test rules`). A real Prometheus loading them: test_prometheus.py."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture
def promtool() -> str:
    binary = shutil.which("promtool")
    if not binary:
        pytest.skip("promtool is not installed (scripts/install-deps.sh --test installs prometheus, which has it)")
    return binary


def test_alert_rules_are_valid(promtool):
    r = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=DOCKER, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 8 rules found" in r.stdout, r.stdout


def test_alert_rules_fire_as_specified(promtool):
    r = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=DOCKER, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_metrics_report_the_data_directory_disk(server):
    """The disk alerts' series: lynx_disk_available_bytes and lynx_disk_size_bytes are the data directory's
    filesystem as statvfs sees it."""
    import os
    import re

    text = server.get("/metrics").text
    got = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(lynx_disk_\w+) (\S+)$", text, re.M)}
    st = os.statvfs(server.data_dir)
    assert got["lynx_disk_size_bytes"] == st.f_blocks * st.f_frsize
    # Other processes write meanwhile: within 1 GiB of what this process sees.
    assert abs(got["lynx_disk_available_bytes"] - st.f_bavail * st.f_frsize) < 2**30, got
    assert 0 < got["lynx_disk_available_bytes"] <= got["lynx_disk_size_bytes"]

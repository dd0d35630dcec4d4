"""The container image built and run for real (scripts/container.sh test): the runtime stage of docker/Dockerfile on
a debootstrapped Debian base with the host's static lynxd, checked as an operator would, then both compose files.
Its output, the figures included (image size, container start to ready), goes to the test log as it comes.
Skips, saying why, only when podman cannot run at all; under LYNX_REQUIRE_CONTAINER=1 (CI: .ci/run) that fails instead."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from lynx_helpers import REPO

TIMEOUT = 25 * 60  # seconds: a fresh debootstrap, the static build and every check, with room


def _podman_unusable() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/install-deps.sh --test installs podman, runc and debootstrap)"
    p = subprocess.run(["bash", "-c", "source scripts/container/env.sh && podman info --format '{{.Host.OCIRuntime.Name}}'"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return f"podman cannot run here: {p.stderr.strip()[-400:]}"
    return None


def test_container_image_built_and_checked(capsys):
    reason = _podman_unusable()
    if reason:
        if os.environ.get("LYNX_REQUIRE_CONTAINER") == "1":
            pytest.fail(reason)
        with capsys.disabled():
            print(f"\nskipped: {reason}")
        pytest.skip(reason)
    image = f"localhost/lynx-test-{os.getpid()}-lynxd:latest"
    env = dict(os.environ, LYNX_IMAGE=image, PYTHON=sys.executable)
    started = time.monotonic()
    lines: list[str] = []
    with capsys.disabled():
        print("\n== scripts/container.sh test", flush=True)
        proc = subprocess.Popen(["scripts/container.sh", "test"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        watchdog = threading.Timer(TIMEOUT, proc.kill)  # a hung check ends the run (and fails it)
        watchdog.start()
        try:
            for line in proc.stdout:
                lines.append(line)
                print(line, end="", flush=True)
            code = proc.wait(timeout=60)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
            subprocess.run(["bash", "-c", f"source scripts/container/env.sh && podman image rm --force {image}"],
                           cwd=REPO, capture_output=True, timeout=120)
        print(f"== scripts/container.sh test: exit {code}, {time.monotonic() - started:.0f} s", flush=True)
    assert code == 0, "".join(line for line in lines if line.startswith(("FAIL", "NOT RUN", "container:")))[-3000:]
    assert any(line.startswith("figure: image size") for line in lines), "no image size printed"

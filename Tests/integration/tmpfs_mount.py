"""A small tmpfs for disk-full tests (needs root; skips the test otherwise)."""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(where: Path, size: str, servers: list):
    """Mounts a tmpfs of `size` (e.g. "8m") at `where`; on exit kills the servers still running from `servers`
    (a list the test appends to) and unmounts."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (disk-full test)")
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield where
    finally:
        for srv in servers:
            if srv.running():
                srv.kill()
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)

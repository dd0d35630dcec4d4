"""What every check gets: the image under test, podman, an API key in a file the container's uid can read, a
scratch directory, and the figures the run reports."""
from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from podman import Podman

REPO = Path(__file__).resolve().parents[2]
UID = 10001


@dataclass
class Context:
    image: str
    base_image: str
    podman: Podman
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lynx-test-container-")))
    key: str = field(default_factory=lambda: secrets.token_hex(16))
    figures: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        os.chmod(self.scratch, 0o755)
        self.key_file.write_text(self.key + "\n")
        os.chmod(self.key_file, 0o644)

    @property
    def key_file(self) -> Path:
        return self.scratch / "lynx-api-key"

    def secret_options(self) -> tuple[str, ...]:
        """The compose files' way of giving the key: a read-only file at /run/secrets/lynx_api_key."""
        return ("-v", f"{self.key_file}:/run/secrets/lynx_api_key:ro", "-e", "LYNX_API_KEY_FILE=/run/secrets/lynx_api_key")

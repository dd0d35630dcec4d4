"""podman as the checks use it: every call bounded in time, every container and volume named lynx-test-... and
removed by `Podman.cleanup()`. The engine settings come from CONTAINERS_CONF (scripts/container/env.sh)."""
from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field


class CheckFailed(AssertionError):
    pass


def wait_until(what: str, predicate, timeout: float, interval: float = 0.2):
    """predicate() until it returns something truthy (returned), or CheckFailed after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise CheckFailed(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


@dataclass
class Podman:
    run_id: str
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def __call__(self, *args: str, timeout: float = 120, check: bool = True, input: str | None = None
                 ) -> subprocess.CompletedProcess:
        p = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise CheckFailed(f"podman {' '.join(args[:3])}... exited {p.returncode}: {p.stderr.strip()[-800:]}")
        return p

    def name(self, what: str) -> str:
        return f"lynx-test-{self.run_id}-{what}"

    def volume(self, what: str) -> str:
        name = self.name(what)
        self("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(self, what: str, image: str, *args: str, options: tuple[str, ...] = ()) -> str:
        """Starts a detached container on the host network; returns its name."""
        name = self.name(what)
        self.containers.append(name)
        self("run", "-d", "--name", name, "--network", "host", *options, image, *args)
        return name

    def logs(self, name: str) -> str:
        p = self("logs", name, check=False)
        return p.stdout + p.stderr

    def state(self, name: str) -> dict:
        return json.loads(self("inspect", "--format", "{{json .State}}", name).stdout)

    def wait_exit(self, name: str, timeout: float) -> int:
        state = wait_until(f"{name} exits", lambda: (s := self.state(name))["Status"] == "exited" and s, timeout)
        return int(state["ExitCode"])

    def healthcheck(self, name: str) -> bool:
        """`podman healthcheck run`: True healthy, False unhealthy (podman 4 runs it only when asked without systemd)."""
        p = self("healthcheck", "run", name, check=False, timeout=30)
        if p.returncode not in (0, 1):
            raise CheckFailed(f"podman healthcheck run {name}: {p.returncode} {p.stdout}{p.stderr}")
        return p.returncode == 0

    def remove_container(self, name: str):
        self("rm", "--force", "--volumes", "--time", "0", name, check=False)  # its anonymous /data volume too

    def cleanup(self):
        for name in reversed(self.containers):
            self.remove_container(name)
        for name in self.volumes:
            self("volume", "rm", "--force", name, check=False)
        for image in self.images:
            self("image", "rm", "--force", image, check=False)
        self.containers.clear()
        self.volumes.clear()
        self.images.clear()

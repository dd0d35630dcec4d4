"""A compose file run with podman from its own settings (podman-compose is not needed): services in dependency
order, waiting for `condition: service_healthy` with `podman healthcheck run`; image, command, environment,
secrets (read-only files under /run/secrets), named and relative volumes, stop signal and grace period,
healthcheck. Every container runs on the host network: a service with `network_mode: host` as written; on a
compose network the other services' names resolve to 127.0.0.1 (--add-host) and each port must be published on
the same number, so the addresses the file uses mean the same thing. `restart:` is not applied (no systemd here).
Images no registry here serves are mapped to local stand-ins (`images`)."""
from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import yaml

from podman import CheckFailed, Podman, wait_until


def _seconds(value) -> int:
    m = re.fullmatch(r"(\d+)(s|m)?", str(value).strip())
    if not m:
        raise CheckFailed(f"duration {value!r}")
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


class ComposeProject:
    def __init__(self, path: Path, podman: Podman, images: dict[str, str], secret_files: dict[str, Path]):
        self.path = path
        self.spec = yaml.safe_load(path.read_text())
        self.podman = podman
        self.images = images
        self.secret_files = secret_files
        self.containers: dict[str, str] = {}
        self.volumes: dict[str, str] = {}

    @property
    def services(self) -> dict:
        return self.spec["services"]

    def order(self) -> list[str]:
        done: list[str] = []

        def visit(name: str, path: tuple[str, ...]):
            if name in done:
                return
            if name in path:
                raise CheckFailed(f"dependency cycle: {path + (name,)}")
            for dep in self.services[name].get("depends_on") or {}:
                visit(dep, path + (name,))
            done.append(name)

        for name in self.services:
            visit(name, ())
        return done

    def _volume(self, spec: str) -> str:
        source, _, rest = spec.partition(":")
        if source.startswith((".", "/")):
            return f"{(self.path.parent / source).resolve()}:{rest}"
        if source not in (self.spec.get("volumes") or {}):
            raise CheckFailed(f"volume {source} is not declared")
        if source not in self.volumes:
            self.volumes[source] = self.podman.volume(f"{self.spec.get('name', 'compose')}-{source}")
        return f"{self.volumes[source]}:{rest}"

    def options(self, name: str) -> list[str]:
        svc = self.services[name]
        opts: list[str] = []
        if svc.get("network_mode") != "host":
            for port in svc.get("ports") or []:
                host_port, _, container_port = str(port).rpartition(":")
                if host_port.split(":")[-1] != container_port:
                    raise CheckFailed(f"{name}: port {port} cannot be kept on the host network")
            for other in self.services:
                opts += ["--add-host", f"{other}:127.0.0.1"]
        env = svc.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            opts += ["-e", f"{key}={value}"]
        for secret in svc.get("secrets") or []:
            source = secret if isinstance(secret, str) else secret["source"]
            target = source if isinstance(secret, str) else secret.get("target", source)
            path = self.secret_files.get(source) or (self.path.parent / self.spec["secrets"][source]["file"])
            opts += ["-v", f"{Path(path).resolve()}:/run/secrets/{target}:ro"]
        for volume in svc.get("volumes") or []:
            opts += ["-v", self._volume(str(volume))]
        if "stop_signal" in svc:
            opts += ["--stop-signal", svc["stop_signal"]]
        if "stop_grace_period" in svc:
            opts += ["--stop-timeout", str(_seconds(svc["stop_grace_period"]))]
        if "user" in svc:
            opts += ["--user", str(svc["user"])]
        if "entrypoint" in svc:
            entry = svc["entrypoint"]
            opts += ["--entrypoint", json.dumps(entry) if isinstance(entry, list) else entry]
        health = svc.get("healthcheck")
        if health:
            test = health["test"]
            if isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"):
                test = json.dumps(test[1:]) if test[0] == "CMD" else test[1]
            opts += ["--health-cmd", test if isinstance(test, str) else json.dumps(test)]
            for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                              ("start_period", "--health-start-period")):
                if key in health:
                    opts += [flag, f"{_seconds(health[key])}s"]
            if "retries" in health:
                opts += ["--health-retries", str(health["retries"])]
        return opts

    def _healthcheck_budget(self, name: str) -> float:
        """How long compose would wait for a service to turn healthy: start period plus retries × interval."""
        health = self.services[name].get("healthcheck") or {}
        interval = _seconds(health.get("interval", "30s"))
        return _seconds(health.get("start_period", "0s")) + interval * int(health.get("retries", 3)) + 30

    def start(self, name: str):
        svc = self.services[name]
        for dep, how in (svc.get("depends_on") or {}).items():
            condition = (how or {}).get("condition", "service_started")
            if condition == "service_healthy":
                self.wait_healthy(dep)
        command = svc.get("command") or []
        if isinstance(command, str):
            command = shlex.split(command)
        image = self.images.get(svc["image"], svc["image"])
        self.containers[name] = self.podman.run(f"{self.spec.get('name', 'compose')}-{name}", image, *map(str, command),
                                                options=tuple(self.options(name)))

    def wait_healthy(self, name: str, timeout: float | None = None):
        container = self.containers[name]
        started = time.monotonic()
        wait_until(f"{name} healthy", lambda: self.podman.healthcheck(container), timeout or self._healthcheck_budget(name),
                   interval=0.5)
        return time.monotonic() - started

    def up(self):
        for name in self.order():
            self.start(name)

    def logs(self, name: str) -> str:
        return self.podman.logs(self.containers[name])

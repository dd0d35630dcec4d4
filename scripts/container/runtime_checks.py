"""The image checked as an operator meets it: one lynxd container at a time, on the host network, its key from a
file as compose gives it. Each check raises CheckFailed with what it saw. The lifecycle checks run in order on one
container and one volume (start, uid, ready, writes, health, stop, restart on the same volume)."""
from __future__ import annotations

import json
import re
import subprocess
import time

from context import UID, Context
from lynx_http import call, free_port
from podman import CheckFailed, wait_until

# The image's size budget. Measured 2026-12-07: 154.6 MB, of which the stripped static lynxd is 62 MB (the Swift
# runtime, Foundation and its ICU data are inside it) and the slim base with libmicrohttpd12, libcurl4, curl and
# ca-certificates 92 MB. Unstripped, lynxd was 87 MB and the image 179 MB.
IMAGE_BUDGET_BYTES = 160 * 1000 * 1000
STOP_TIMEOUT = 90  # docker/compose.*: stop_grace_period: 90s


def expect(condition, message: str):
    if not condition:
        raise CheckFailed(message)


def _ready(port: int, key: str, scheme: str = "http"):
    status, body = call("GET", f"{scheme}://127.0.0.1:{port}/health/ready", key=key, timeout=2)
    return status == 200 and body


def _start(ctx: Context, what: str, volume: str, port: int) -> str:
    return ctx.podman.run(what, ctx.image, options=(
        *ctx.secret_options(), "-e", f"LYNX_PORT={port}", "-e", "LYNX_DIMENSION=4", "-v", f"{volume}:/data"))


# ---------------------------------------------------------------- the image itself

def check_image_config(ctx: Context):
    """HEALTHCHECK kept (podman build --format docker), user 10001, lynxd the entrypoint."""
    cfg = json.loads(ctx.podman("image", "inspect", "--format", "{{json .Config}}", ctx.image).stdout)
    health = json.loads(ctx.podman("image", "inspect", "--format", "{{json .HealthCheck}}", ctx.image).stdout) or {}
    expect("lynx-healthcheck" in " ".join(health.get("Test") or []), f"no HEALTHCHECK in the image: {health}")
    expect(cfg.get("User") == f"{UID}:{UID}", f"User {cfg.get('User')!r}")
    expect(cfg.get("Entrypoint") == ["lynxd"], f"Entrypoint {cfg.get('Entrypoint')}")


def check_image_size(ctx: Context):
    """The image's size printed and held under IMAGE_BUDGET_BYTES; its lynxd stripped and static."""
    size = int(ctx.podman("image", "inspect", "--format", "{{.Size}}", ctx.image).stdout)
    copy = ctx.scratch / "lynxd-from-image"
    name = ctx.podman.name("copy")
    ctx.podman.containers.append(name)
    ctx.podman("create", "--name", name, ctx.image)
    ctx.podman("cp", f"{name}:/usr/local/bin/lynxd", str(copy))
    ctx.podman.remove_container(name)
    ctx.figures["image size"] = f"{size / 1e6:.1f} MB (budget {IMAGE_BUDGET_BYTES / 1e6:.0f} MB)"
    ctx.figures["lynxd in the image"] = f"{copy.stat().st_size / 1e6:.1f} MB"
    sections = subprocess.run(["readelf", "-S", "-W", str(copy)], capture_output=True, text=True, timeout=30).stdout
    expect(".text" in sections, "readelf could not read the image's lynxd")
    expect(".symtab" not in sections, "the image's lynxd is not stripped (it has a .symtab)")
    dynamic = subprocess.run(["readelf", "-d", "-W", str(copy)], capture_output=True, text=True, timeout=30).stdout
    expect("libswiftCore" not in dynamic, "the image's lynxd links the Swift runtime dynamically")
    expect(size <= IMAGE_BUDGET_BYTES, f"image {size} bytes, over the budget of {IMAGE_BUDGET_BYTES}")


def check_ca_bundle(ctx: Context):
    """ca-certificates is installed: libcurl's bundle is there and holds Debian's CAs."""
    p = ctx.podman("run", "--rm", "--network", "host", "--entrypoint", "grep", ctx.image,
                   "-c", "BEGIN CERTIFICATE", "/etc/ssl/certs/ca-certificates.crt", check=False)
    count = int(p.stdout.strip() or 0)
    expect(p.returncode == 0 and count > 100, f"CA bundle: {p.stdout.strip()} certificates; {p.stderr.strip()}")


# ---------------------------------------------------------------- one container's life

class Lifecycle:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.volume = ""
        self.port = 0
        self.name = ""

    def start_to_ready(self):
        """Started with a volume and the key from a file, /health/ready (with the key) answers 200."""
        ctx = self.ctx
        self.volume = ctx.podman.volume("data")
        self.port = free_port()
        started = time.monotonic()
        self.name = _start(ctx, "lynxd", self.volume, self.port)
        body = wait_until("/health/ready answers 200", lambda: _ready(self.port, ctx.key), timeout=60, interval=0.05)
        ctx.figures["container start to ready"] = f"{time.monotonic() - started:.2f} s (podman run -d to 200)"
        expect(isinstance(body, dict) and body.get("status") == "ready", f"/health/ready said {body}")
        status, _ = call("GET", f"http://127.0.0.1:{self.port}/stats")
        expect(status == 401, f"GET /stats without the key answered {status}, not 401")

    def runs_as_uid_10001(self):
        """lynxd (pid 1) runs as uid and gid 10001, and /data on the new volume belongs to it."""
        status = self.ctx.podman("exec", self.name, "cat", "/proc/1/status").stdout
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
        expect(set(uids) == {str(UID)} and set(gids) == {str(UID)}, f"lynxd runs as uid {uids}, gid {gids}")
        owner = self.ctx.podman("exec", self.name, "stat", "-c", "%u:%g", "/data").stdout.strip()
        expect(owner == f"{UID}:{UID}", f"/data belongs to {owner}")

    def writes_search_flush(self):
        base, key = f"http://127.0.0.1:{self.port}", self.ctx.key
        status, body = call("POST", f"{base}/vectors", {"vectors": [
            {"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "metadata": {"genre": "jazz"}},
            {"id": 2, "vector": [0.2, 0.1, 0.4, 0.3]},
            {"id": 3, "vector": [0.9, 0.8, 0.7, 0.6]}]}, key=key)
        expect(status == 200 and body.get("upserted") == 3, f"upsert: {status} {body}")
        lsn = body["lsn"]
        status, body = call("POST", f"{base}/search", {"vector": [0.9, 0.8, 0.7, 0.61], "k": 2}, key=key)
        expect(status == 200 and [r["id"] for r in body["results"]] == [3, 2], f"search: {status} {body}")
        status, body = call("POST", f"{base}/flush", key=key)
        expect(status == 200 and body.get("durable_lsn", -1) >= lsn, f"flush: {status} {body} (upsert lsn {lsn})")

    def healthcheck_healthy(self):
        expect(self.ctx.podman.healthcheck(self.name), "podman healthcheck run: unhealthy while lynxd answers")

    def healthcheck_unhealthy_when_it_cannot_answer(self):
        """lynxd stopped (SIGSTOP): the probe times out, unhealthy; resumed: healthy again."""
        self.ctx.podman("kill", "--signal", "STOP", self.name)
        try:
            expect(not self.ctx.podman.healthcheck(self.name), "podman healthcheck run: healthy while lynxd is stopped")
        finally:
            self.ctx.podman("kill", "--signal", "CONT", self.name)
        wait_until("healthy again after SIGCONT", lambda: self.ctx.podman.healthcheck(self.name), timeout=20)

    def stop_writes_a_shutdown_checkpoint(self):
        """podman stop (SIGTERM) within the compose files' stop timeout: exit 0, the checkpoint in the log."""
        started = time.monotonic()
        self.ctx.podman("stop", "--time", str(STOP_TIMEOUT), self.name, timeout=STOP_TIMEOUT + 30)
        took = time.monotonic() - started
        self.ctx.figures["podman stop"] = f"{took:.2f} s (timeout {STOP_TIMEOUT} s)"
        log = self.ctx.podman.logs(self.name)
        code = int(self.ctx.podman.state(self.name)["ExitCode"])
        expect(code == 0, f"lynxd exited {code} after SIGTERM (137: killed at the timeout)\n{log[-1500:]}")
        expect(took < STOP_TIMEOUT, f"stop took {took:.1f} s")
        expect("shutdown checkpoint written" in log and "stopped" in log, f"no shutdown checkpoint in the log:\n{log[-1500:]}")

    def data_survives_a_new_container(self):
        """A new container on the same volume serves what the first one stored."""
        port = free_port()
        _start(self.ctx, "lynxd-again", self.volume, port)
        wait_until("the new container's /health/ready answers 200", lambda: _ready(port, self.ctx.key), timeout=60)
        status, body = call("GET", f"http://127.0.0.1:{port}/vectors/1", key=self.ctx.key)
        expect(status == 200 and body.get("metadata") == {"genre": "jazz"}, f"GET /vectors/1: {status} {body}")
        status, body = call("POST", f"http://127.0.0.1:{port}/count", {}, key=self.ctx.key)
        expect(status == 200 and body.get("count") == 3, f"count: {status} {body}")

    def steps(self):
        return [self.start_to_ready, self.runs_as_uid_10001, self.writes_search_flush, self.healthcheck_healthy,
                self.healthcheck_unhealthy_when_it_cannot_answer, self.stop_writes_a_shutdown_checkpoint,
                self.data_survives_a_new_container]


# ---------------------------------------------------------------- refusals

def check_unwritable_volume(ctx: Context):
    """A host directory uid 10001 cannot write: one log line naming the uid and the fix, and a non-zero exit."""
    host_dir = ctx.scratch / "root-owned-data"
    host_dir.mkdir(mode=0o755)
    name = ctx.podman.run("unwritable", ctx.image, options=(*ctx.secret_options(), "-e", f"LYNX_PORT={free_port()}",
                                                            "-v", f"{host_dir}:/data"))
    code = ctx.podman.wait_exit(name, timeout=30)
    log = ctx.podman.logs(name)
    lines = [ln for ln in log.splitlines() if "data directory" in ln]
    expect(code != 0, f"exit code {code}")
    expect(len(lines) == 1, f"expected one line about the data directory:\n{log}")
    expect("uid 10001" in lines[0] and "chown -R 10001:10001" in lines[0], f"the line does not name uid 10001: {lines[0]}")


def check_no_key_refuses_to_start(ctx: Context):
    """0.0.0.0 (the image's default) without a key: lynxd refuses to start and says why."""
    name = ctx.podman.run("no-key", ctx.image, options=("-e", f"LYNX_PORT={free_port()}",))
    code = ctx.podman.wait_exit(name, timeout=30)
    log = ctx.podman.logs(name)
    expect(code != 0, f"exit code {code}")
    expect("refusing to listen on 0.0.0.0 without an API key" in log, f"no clear refusal in the log:\n{log}")

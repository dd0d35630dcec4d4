"""docker/compose.yaml (lynxd and Prometheus) and docker/compose.cluster.yml (three lynxd nodes and etcd), run
from the files' own settings (compose.py). No registry is reachable, so Prometheus and etcd run as stand-in
images: the debootstrapped base with Debian's prometheus, etcd and etcdctl binaries from this host."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from compose import ComposeProject
from context import REPO, Context
from lynx_http import call, port_in_use
from podman import CheckFailed, wait_until
from runtime_checks import expect


def _standin(ctx: Context, what: str, binaries: list[str], lines: str) -> str:
    """An image FROM the base holding the host's copies of `binaries` in /usr/local/bin."""
    image = f"localhost/lynx-test-{ctx.podman.run_id}-{what}:standin"
    context = ctx.scratch / f"standin-{what}"
    context.mkdir()
    for binary in binaries:
        path = shutil.which(binary)
        if path is None:
            raise CheckFailed(f"{binary} is not installed on this host (scripts/install-deps.sh --test installs it)")
        shutil.copy2(path, context / binary)
    copies = " ".join(binaries)
    (context / "Containerfile").write_text(f"FROM {ctx.base_image}\nCOPY {copies} /usr/local/bin/\n{lines}")
    ctx.podman.images.append(image)
    ctx.podman("build", "--quiet", "--format", "docker", "-t", image, str(context), timeout=300)
    return image


def _ports_free(*ports: int):
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        raise CheckFailed(f"ports {busy} are in use on this host; the compose files publish them")


def check_compose_prometheus_scrapes_lynxd(ctx: Context):
    """compose.yaml: lynxd healthy, then Prometheus (after it, as depends_on says), whose scrape target is up."""
    _ports_free(7311, 9090)
    prometheus = _standin(ctx, "prometheus", ["prometheus"],
                          "RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus\n"
                          "USER nobody\nWORKDIR /prometheus\nENTRYPOINT [\"/usr/local/bin/prometheus\"]\n")
    project = ComposeProject(REPO / "docker/compose.yaml", ctx.podman,
                             images={"localhost/lynxd:latest": ctx.image, "docker.io/prom/prometheus:v2.53.0": prometheus},
                             secret_files={"lynx_api_key": ctx.key_file})
    expect(project.services["lynxd"]["image"] in project.images, "compose.yaml's lynxd image changed: update the check")
    expect(project.services["prometheus"]["image"] in project.images, "compose.yaml's Prometheus image changed")
    project.up()

    def target_up():
        status, body = call("GET", "http://127.0.0.1:9090/api/v1/targets", timeout=2)
        targets = (body or {}).get("data", {}).get("activeTargets", []) if status == 200 else []
        return next((t for t in targets if t["labels"].get("job") == "lynxd" and t["health"] == "up"), None)

    started = time.monotonic()
    target = wait_until("Prometheus's lynxd target up", target_up, timeout=90, interval=1)
    ctx.figures["compose: Prometheus target up"] = f"{time.monotonic() - started:.1f} s after the services started"
    expect(target["scrapeUrl"] == "http://lynxd:7311/metrics", f"scrape URL {target['scrapeUrl']}")
    status, body = call("GET", "http://127.0.0.1:9090/api/v1/rules", timeout=5)
    groups = (body or {}).get("data", {}).get("groups", [])
    expect(status == 200 and groups, f"Prometheus loaded no alerting rules from alerts.yml: {status} {body}")


def _replication(port: int, key: str):
    status, body = call("GET", f"http://127.0.0.1:{port}/replication", key=key, timeout=2)
    return body if status == 200 and isinstance(body, dict) else None


def check_compose_cluster_elects_and_replicates(ctx: Context):
    """compose.cluster.yml: etcd healthy, three nodes; one leads, the others follow it; a write made on the leader
    is served by a follower; a write on a follower answers 421 naming a leader URL this host can use as it is."""
    ports = {"lynx1": 7311, "lynx2": 7312, "lynx3": 7313}
    _ports_free(*ports.values(), 2379, 2380)
    etcd = _standin(ctx, "etcd", ["etcd", "etcdctl"], "")
    project = ComposeProject(REPO / "docker/compose.cluster.yml", ctx.podman,
                             images={"localhost/lynxd:latest": ctx.image, "quay.io/coreos/etcd:v3.5.17": etcd},
                             secret_files={"lynx_api_key": ctx.key_file})
    for name, port in ports.items():
        expect(f"http://127.0.0.1:{port}" in project.services[name]["command"], f"{name} does not advertise port {port}")
    project.up()
    started = time.monotonic()

    def elected():
        states = {name: _replication(port, ctx.key) for name, port in ports.items()}
        if any(s is None for s in states.values()):
            return None
        leaders = [n for n, s in states.items() if s.get("role") == "leader"]
        if len(leaders) != 1:
            return None
        following = [n for n, s in states.items() if s.get("role") == "follower" and (s.get("leader") or {}).get("node") == leaders[0]]
        return leaders[0] if len(following) == 2 else None

    leader = wait_until("one leader, two followers", elected, timeout=90, interval=0.5)
    ctx.figures["compose cluster: leader elected"] = f"{time.monotonic() - started:.1f} s after the nodes started"
    follower = next(n for n in ports if n != leader)
    vector = [0.001 * i for i in range(int(project.services[leader]["environment"]["LYNX_DIMENSION"]))]
    status, body = call("POST", f"http://127.0.0.1:{ports[leader]}/vectors?durable=true",
                        {"id": 42, "vector": vector, "metadata": {"from": leader}}, key=ctx.key)
    expect(status == 200, f"write on the leader {leader}: {status} {body}")

    def served():
        status, body = call("GET", f"http://127.0.0.1:{ports[follower]}/vectors/42", key=ctx.key, timeout=2)
        return status == 200 and body
    record = wait_until(f"the follower {follower} serves the leader's write", served, timeout=30)
    expect(record.get("metadata") == {"from": leader}, f"follower answered {record}")

    status, body = call("POST", f"http://127.0.0.1:{ports[follower]}/vectors", {"id": 43, "vector": vector}, key=ctx.key)
    url = ((body or {}).get("leader") or {}).get("url", "")
    expect(status == 421 and url == f"http://127.0.0.1:{ports[leader]}", f"write on a follower: {status} {body}")
    status, body = call("POST", f"{url}/vectors", {"id": 43, "vector": vector}, key=ctx.key)
    expect(status == 200, f"the 421's leader URL {url} from this host: {status} {body}")

#!/usr/bin/env python3
"""scripts/container.sh test: the image $LYNX_IMAGE checked as an operator would (docs/CONTAINER.md lists what each
check covers). Prints one line per check and the figures (image size, start to ready, ...); exit 1 if any failed.
Every container, volume and stand-in image it makes is named lynx-test-<pid>-... and removed after its check.
  checks.py [--only SUBSTRING ...] [--list]"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compose_checks  # noqa: E402
import runtime_checks  # noqa: E402
import tls_checks  # noqa: E402
from context import Context  # noqa: E402
from podman import CheckFailed, Podman  # noqa: E402


def groups(ctx: Context) -> list[tuple[str, list[tuple[str, object]]]]:
    """Checks in groups: a group's containers are removed after it; within a group a failure skips the rest."""
    life = runtime_checks.Lifecycle(ctx)
    return [
        ("image config", [("HEALTHCHECK kept, user 10001, entrypoint lynxd", lambda: runtime_checks.check_image_config(ctx))]),
        ("image size", [("under budget, lynxd stripped and static", lambda: runtime_checks.check_image_size(ctx))]),
        ("image CA bundle", [("ca-certificates installed", lambda: runtime_checks.check_ca_bundle(ctx))]),
        ("lifecycle", [(step.__name__.replace("_", " "), step) for step in life.steps()]),
        ("unwritable volume", [("one clear line naming uid 10001, non-zero exit",
                                lambda: runtime_checks.check_unwritable_volume(ctx))]),
        ("no key", [("refuses 0.0.0.0 without a key, says so", lambda: runtime_checks.check_no_key_refuses_to_start(ctx))]),
        ("tls", [("HEALTHCHECK with TLS, port from flags, --auth-metrics",
                  lambda: tls_checks.check_healthcheck_with_tls_and_flags(ctx))]),
        ("etcd https", [("etcd failure logged with libcurl's reason, rate-limited",
                         lambda: tls_checks.check_etcd_over_https_logs_why_it_fails(ctx))]),
        ("compose", [("lynxd and Prometheus: scrape target up",
                      lambda: compose_checks.check_compose_prometheus_scrapes_lynxd(ctx))]),
        ("compose cluster", [("etcd and three nodes: a leader; a follower serves its write",
                              lambda: compose_checks.check_compose_cluster_elects_and_replicates(ctx))]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help="run the groups whose name contains this")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    ctx = Context(image=os.environ.get("LYNX_IMAGE", "localhost/lynxd:latest"),
                  base_image=os.environ.get("LYNX_BASE_IMAGE", "localhost/lynx-cache-debian:bookworm-slim"),
                  podman=Podman(run_id=str(os.getpid())))
    failed = 0
    try:
        for group, checks in groups(ctx):
            if args.only and not any(o in group for o in args.only):
                continue
            broken = None
            for name, check in checks:
                label = f"{group}: {name}"
                if args.list:
                    print(label)
                    continue
                if broken:
                    print(f"NOT RUN {label} (after '{broken}' failed)", flush=True)
                    failed += 1
                    continue
                started = time.monotonic()
                try:
                    check()
                    print(f"PASS    {label} ({time.monotonic() - started:.1f} s)", flush=True)
                except Exception as e:  # a check's own failure, or podman's, or an unexpected error: all fail it
                    broken = name
                    failed += 1
                    detail = str(e) if isinstance(e, CheckFailed) else traceback.format_exc()
                    print(f"FAIL    {label} ({time.monotonic() - started:.1f} s): {detail}", flush=True)
            ctx.podman.cleanup()
    finally:
        ctx.podman.cleanup()
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    for name, value in ctx.figures.items():
        print(f"figure: {name}: {value}")
    if not args.list:
        print(f"container checks: {'all passed' if not failed else f'{failed} failed or not run'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

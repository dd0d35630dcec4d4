#!/usr/bin/env bash
# The container image built and checked where no registry is reachable (docs/CONTAINER.md):
#   scripts/container.sh build   the runtime stage of docker/Dockerfile on a debootstrapped Debian bookworm base
#                                (cached in ~/.cache/lynx-container and podman's storage), with lynxd built on
#                                this host as the Dockerfile's build stage builds it; tags $LYNX_IMAGE
#                                (default localhost/lynxd:latest)
#   scripts/container.sh test    builds, then checks the image as an operator would, and compose with
#                                Prometheus and the three-node cluster with etcd (scripts/container/checks.py)
#   scripts/container.sh base    only the debootstrapped base and the runtime stage's package layers, cached
#                                (scripts/test.sh starts it in the background)
#   scripts/container.sh clean   removes the cached base (rootfs tarball and image)
# Needs podman, runc and debootstrap (scripts/install-deps.sh --test installs them), and root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/container/env.sh
source scripts/container/base.sh
source scripts/container/image.sh

case "${1:-}" in
  base)
    ensure_base
    warm_runtime_layers "$PWD"
    ;;
  build)
    ensure_base
    build_image "$PWD"
    ;;
  test)
    ensure_base
    build_image "$PWD"
    shift
    exec "${PYTHON:-python3}" scripts/container/checks.py "$@"
    ;;
  clean)
    podman image rm --force "$LYNX_RUNTIME_CACHE_IMAGE" "$LYNX_BASE_IMAGE" >/dev/null 2>&1 || true
    rm -rf "$LYNX_CONTAINER_CACHE"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

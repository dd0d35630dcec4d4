# Sourced by scripts/container.sh and its parts: how podman runs on these machines (docs/CONTAINER.md):
# Debian's podman with runc, the cgroupfs manager and no default ulimits (crun fails on the hybrid cgroups of
# these kernels; the default ulimits are not permitted). The settings go in a CONTAINERS_CONF of our own, in the
# cache directory, so the host's podman configuration is left alone.
LYNX_CONTAINER_CACHE=${LYNX_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lynx-container}
# The debootstrapped Debian base (a cache, kept between runs: `scripts/container.sh clean` removes it).
LYNX_BASE_IMAGE=${LYNX_BASE_IMAGE:-localhost/lynx-cache-debian:bookworm-slim}
# The runtime stage's package layers, built ahead by `base` (a cache too).
LYNX_RUNTIME_CACHE_IMAGE=${LYNX_RUNTIME_CACHE_IMAGE:-localhost/lynx-cache-runtime:bookworm}
# The image `build` makes and `test` checks; compose files name localhost/lynxd:latest.
LYNX_IMAGE=${LYNX_IMAGE:-localhost/lynxd:latest}

mkdir -p "$LYNX_CONTAINER_CACHE"
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$LYNX_CONTAINER_CACHE/containers.conf"
  cat >"$CONTAINERS_CONF.tmp" <<'CONF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
fi
export LYNX_CONTAINER_CACHE LYNX_BASE_IMAGE LYNX_RUNTIME_CACHE_IMAGE LYNX_IMAGE

say() { printf 'container: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

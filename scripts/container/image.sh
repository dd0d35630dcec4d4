# Sourced by scripts/container.sh: builds $LYNX_IMAGE from docker/Dockerfile's runtime stage, unchanged, on
# $LYNX_BASE_IMAGE, with a lynxd built on this host as the Dockerfile's build stage builds it. Only the build
# stage differs: it is replaced by a stage holding the host's binary (the Swift image is not reachable here).

# The host's lynxd: the Dockerfile's two commands (a static Swift runtime; stripped), built in a build directory of
# its own ($LYNX_STATIC_BUILD_PATH, default .build-static): -static-stdlib changes how every module is compiled, so
# sharing .build with the usual dynamic build would recompile everything at each switch. (scripts/test.sh starts
# this same build in the background early, so here it is found up to date.) $LYNXD_STATIC names an already built
# static lynxd instead (it is stripped here the same way).
build_lynxd() {
  local out=$1 bin
  if [ -n "${LYNXD_STATIC:-}" ]; then
    bin=$LYNXD_STATIC
    say "lynxd: $bin (LYNXD_STATIC)"
  else
    local started log scratch=${LYNX_STATIC_BUILD_PATH:-.build-static}
    started=$(date +%s)
    log=$(mktemp)
    say "swift build -c release --product lynxd --static-swift-stdlib --scratch-path $scratch"
    if ! swift build -c release --product lynxd --static-swift-stdlib --scratch-path "$scratch" >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      die "swift build failed"
    fi
    rm -f "$log"
    bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/lynxd"
    say "swift build: $(( $(date +%s) - started )) s"
  fi
  if ldd "$bin" 2>/dev/null | grep -q 'libswiftCore'; then
    die "$bin links the Swift runtime dynamically; the image needs a --static-swift-stdlib build"
  fi
  install -D -s -m 0755 "$bin" "$out"
}

# The runtime stage of docker/Dockerfile (its global ARGs, then everything from its runtime FROM on), after a
# build stage that holds the host's binary at /out/lynxd, where the real build stage leaves it.
containerfile() {
  local dockerfile=$1
  awk '/^ARG / && !seen_from { print } /^FROM / { seen_from = 1 }' "$dockerfile"
  printf 'FROM scratch AS build\nCOPY lynxd /out/lynxd\n\n'
  awk '/^FROM .* AS runtime/ { on = 1 } on { print }' "$dockerfile"
}

# The runtime stage up to the binary (its apt-get install and useradd layers), built ahead and kept as
# $LYNX_RUNTIME_CACHE_IMAGE so that build_image finds those layers in podman's cache: scripts/test.sh builds it in
# the background with the base, and the image build that waits for lynxd then only copies files.
warm_runtime_layers() {
  local repo=$1 ctx started
  ctx=$(mktemp -d)
  containerfile "$repo/docker/Dockerfile" | awk '/^FROM .* AS runtime/ { on = 1 } /^COPY --from=build/ { exit } on || /^ARG / { print }' \
    >"$ctx/Containerfile"
  started=$(date +%s)
  if ! podman build --quiet --format docker --network host --build-arg "RUNTIME_IMAGE=$LYNX_BASE_IMAGE" ${LYNX_BUILD_ARGS:-} \
      -f "$ctx/Containerfile" -t "$LYNX_RUNTIME_CACHE_IMAGE" "$ctx" >"$ctx/build.log" 2>&1; then
    tail -n 30 "$ctx/build.log" >&2
    rm -rf "$ctx"
    die "podman build of the runtime stage's packages failed (a pinned Debian version the archive no longer has fails here: see docker/Dockerfile)"
  fi
  rm -rf "$ctx"
  say "runtime packages (apt-get install, useradd) $LYNX_RUNTIME_CACHE_IMAGE: $(( $(date +%s) - started )) s"
}

build_image() {
  local repo=$1 ctx started
  ctx=$(mktemp -d)
  build_lynxd "$ctx/lynxd"
  mkdir -p "$ctx/docker"
  cp "$repo/docker/healthcheck.sh" "$ctx/docker/"
  containerfile "$repo/docker/Dockerfile" >"$ctx/Containerfile"
  grep -q '^FROM .* AS runtime' "$ctx/Containerfile" || die "docker/Dockerfile has no 'FROM ... AS runtime' stage"
  started=$(date +%s)
  podman images --quiet --no-trunc --filter dangling=true | sort >"$ctx/dangling.before"
  say "podman build --format docker $LYNX_IMAGE (runtime stage on $LYNX_BASE_IMAGE)"
  # --format docker keeps the HEALTHCHECK; --network host: apt reaches Debian's archive as the host does.
  if ! podman build --quiet --format docker --network host --build-arg "RUNTIME_IMAGE=$LYNX_BASE_IMAGE" \
      ${LYNX_BUILD_ARGS:-} -f "$ctx/Containerfile" -t "$LYNX_IMAGE" "$ctx" >"$ctx/build.log" 2>&1; then
    tail -n 30 "$ctx/build.log" >&2
    rm -rf "$ctx"
    die "podman build failed (a pinned Debian version the archive no longer has fails here: see docker/Dockerfile)"
  fi
  # The stand-in build stage is left as an untagged image: remove what this build left, nothing else.
  podman images --quiet --no-trunc --filter dangling=true | sort | comm -13 "$ctx/dangling.before" - \
    | xargs -r podman image rm --force >/dev/null 2>&1 || true
  rm -rf "$ctx"
  say "podman build: $(( $(date +%s) - started )) s"
  say "image $LYNX_IMAGE: $(podman image inspect --format '{{.Size}}' "$LYNX_IMAGE") bytes"
}

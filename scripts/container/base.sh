# Sourced by scripts/container.sh: makes $LYNX_BASE_IMAGE, a Debian bookworm minbase made with debootstrap from
# Debian's own archive, when podman does not have it yet. It stands in for docker.io/library/debian:bookworm-slim
# where no registry is reachable: the same release, and the same apt sources as the official slim image
# (bookworm, bookworm-updates, bookworm-security), so the runtime stage's pinned packages install from the
# same suites. The rootfs tarball is kept in $LYNX_CONTAINER_CACHE, so a second run only imports it (or does nothing).

# The Debian mirror the host's apt uses (deb.debian.org unless the host names another).
debian_mirror() {
  local m
  m=$(grep -hsoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
      | grep -oE 'https?://[^[:space:]]+/debian/?' | head -n 1)
  m=${m:-http://deb.debian.org/debian}
  echo "${m%/}"
}

# Removes a rootfs that debootstrap left, unmounting what it mounted there (proc, sys) first.
remove_rootfs() {
  local dir=$1 m
  for m in $(findmnt -R -n -l -o TARGET "$dir" 2>/dev/null | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$dir"
}

# What the official slim image leaves out (debuerreotype's --slim): documentation, manual pages and translations,
# now and in every package installed later; copyright files stay; apt keeps no downloaded packages.
slim_rootfs() {
  local dir=$1
  cat >"$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
  # apt keeps no downloaded packages and no binary caches in a layer (the official image's docker-clean).
  cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  echo 'Acquire::Languages "none";' >"$dir/etc/apt/apt.conf.d/docker-no-languages"
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/groff/* "$dir"/usr/share/info/* "$dir"/usr/share/lintian/* \
         "$dir"/usr/share/linda/*
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
         "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/var/cache/debconf/*-old
}

ensure_base() {
  if podman image exists "$LYNX_BASE_IMAGE"; then
    say "base $LYNX_BASE_IMAGE: cached"
    return
  fi
  local tarball="$LYNX_CONTAINER_CACHE/bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/install-deps.sh --test installs it)"
    local mirror rootfs started
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d "$LYNX_CONTAINER_CACHE/rootfs.XXXXXX")
    started=$(date +%s)
    say "debootstrap --variant=minbase bookworm from $mirror"
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
      tail -n 20 "$rootfs.log" >&2
      remove_rootfs "$rootfs"
      die "debootstrap failed (log: $rootfs.log)"
    fi
    # The official image's apt sources, from the same mirror (its security suite lives beside it).
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    slim_rootfs "$rootfs"
    tar -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    remove_rootfs "$rootfs"
    rm -f "$rootfs.log"
    say "debootstrap: $(( $(date +%s) - started )) s"
  fi
  podman import --quiet "$tarball" "$LYNX_BASE_IMAGE" >/dev/null || die "podman import of $tarball failed"
  say "base $LYNX_BASE_IMAGE: imported from $tarball"
}

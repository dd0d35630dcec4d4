#!/usr/bin/env bash
# Starts lynxd with the embedded defaults (127.0.0.1:7311, ./lynx-data, 384-d, l2), building it first.
# Any flag is passed through: scripts/run.sh --dimension 768 --metric cosine
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product lynxd >&2
exec .build/release/lynxd "$@"

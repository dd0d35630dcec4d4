#!/usr/bin/env bash
# libFuzzer on the JSON reader, the WAL reader, the snapshot decoder, the replication batch decoder and the upsert
# body's two decoders, fast and tree, against each other (Fuzz/<target>/main.swift).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 20 seconds each, targets json wal snapshot replication decoders)
# SwiftPM has no fuzzer product, so this compiles the library targets with swiftc into its own folder
# (.build-fuzz): the C targets with clang, LynxSupport, LynxJSON, LynxIndex, LynxStorage, LynxEngine, LynxCluster,
# LynxReplication, LynxTransport and LynxHTTP (and swift-log, which the engine imports; libmicrohttpd's headers, which
# the transport imports) as static libraries with -sanitize=fuzzer,address (coverage and AddressSanitizer, checks
# kept: -O, not the release build's -Ounchecked), then each target. Each runs from its committed corpus Fuzz/corpus/<target>
# (read only: new inputs go to .build-fuzz/corpus/<target>). A crash, leak or sanitizer report fails the run; the
# input is saved as .build-fuzz/crash-<target>-*. Keep it: copy it into Fuzz/corpus/<target>/ and add a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json wal snapshot replication decoders)
out=.build-fuzz
mkdir -p "$out/modules"
[ -d .build/checkouts/swift-log ] || swift package resolve >/dev/null
log=$(mktemp)
flags=(-O -sanitize=fuzzer,address -parse-as-library -swift-version 5 -I "$out/modules" -Xcc -fmodule-map-file="$out/modules/c.modulemap")

echo "== build fuzz targets (swiftc -sanitize=fuzzer,address, $out)"
cat > "$out/modules/c.modulemap" <<MAP
module CCRC32C { header "$PWD/Sources/CCRC32C/include/ccrc32c.h" export * }
module CFileOps { header "$PWD/Sources/CFileOps/include/cfileops.h" export * }
module CLynxKernels { header "$PWD/Sources/CLynxKernels/include/clynxkernels.h" export * }
module CHeap { header "$PWD/Sources/CHeap/include/cheap.h" export * }
module CCurl { header "$PWD/Sources/CCurl/shim.h" link "curl" export * }
module CMicroHTTPD [system] { header "$PWD/Sources/CMicroHTTPD/shim.h" link "microhttpd" link "gnutls" export * }
MAP
for c in CCRC32C/crc32c CFileOps/fileops CLynxKernels/kernels CHeap/heap; do
  clang -c -O2 -fsanitize=fuzzer-no-link,address -I "Sources/${c%/*}/include" "Sources/$c.c" -o "$out/${c#*/}.o"
done
library() {  # name, extra swiftc flags..., then the source folder last
  local name=$1; shift
  local dir=${*: -1}
  if ! swiftc "${flags[@]}" "${@:1:$#-1}" -module-name "$name" -emit-library -static -emit-module \
      -emit-module-path "$out/modules/$name.swiftmodule" -o "$out/lib$name.a" $(find "$dir" -name '*.swift') >"$log" 2>&1; then
    grep -E "error" "$log" | head -30 >&2; echo "fuzz build of $name failed" >&2; exit 1
  fi
}
library Logging -package-name swift_log .build/checkouts/swift-log/Sources/Logging
library LynxSupport Sources/LynxSupport
library LynxJSON Sources/LynxJSON
library LynxIndex -package-name lynx Sources/LynxIndex
library LynxStorage Sources/LynxStorage
library LynxEngine -enable-testing Sources/LynxEngine
library LynxCluster Sources/LynxCluster
library LynxReplication Sources/LynxReplication
library LynxTransport -package-name lynx $(pkg-config --cflags-only-I libmicrohttpd | sed 's/-I/-Xcc -I/g') Sources/LynxTransport
# -package-name: LynxHTTP's tests and Fuzz/decoders reach its decoders as package declarations.
library LynxHTTP -package-name lynx Sources/LynxHTTP
for t in "${targets[@]}"; do
  if ! swiftc "${flags[@]}" -package-name lynx Fuzz/$t/main.swift -o "$out/fuzz-$t" -L "$out" -lLynxHTTP -lLynxTransport \
      -lLynxReplication -lLynxCluster -lLynxEngine -lLynxStorage -lLynxIndex -lLynxJSON -lLynxSupport -lLogging -lcurl \
      -lmicrohttpd -lgnutls "$out"/*.o >"$log" 2>&1; then
    grep -E "error" "$log" | head -30 >&2; echo "fuzz build of $t failed" >&2; exit 1
  fi
done

status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "Fuzz/corpus/$t"
  echo "== fuzz $t for ${seconds} s (corpus Fuzz/corpus/$t: $(ls Fuzz/corpus/$t | wc -l) inputs)"
  # Swift's own backtracer would wait on a crash; libFuzzer and ASan report it.
  if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" "$out/fuzz-$t" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$out/crash-$t-" "$out/corpus/$t" "Fuzz/corpus/$t" >"$log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | tr '\n' ' '; echo
  else
    grep -vE "^#[0-9]+" "$log" | tail -40 >&2
    echo "fuzz $t: crash (input saved as $out/crash-$t-*)" >&2
    status=1
  fi
done
exit $status

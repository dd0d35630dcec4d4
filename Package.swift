// swift-tools-version:6.0
//
// Layers, lowest first. A target may depend only on targets above it in this list:
//   LynxSupport under every layer, imports none of ours: the one mutex, read-write lock and condition variable,
//               the monotonic clock, thread start, the byte writer and reader, metric primitives (Glibc only)
//   LynxIndex   pure index math: distances, Flat/HNSW/IVF, top-k (no Foundation, no I/O); AVX2 kernels in CLynxKernels
//   LynxJSON    strict, fast JSON scanner and writer for request/response bodies (pure)
//   LynxStorage write-ahead log, snapshots, manifest, directory lock, file-I/O seam
//   LynxEngine  the index worker: orders writes, logs, applies, commits, checkpoints, recovers
//   LynxCluster beside LynxEngine, knows nothing of it: an HTTP client on libcurl (CCurl) and an etcd v3
//               client over etcd's JSON gateway (uses only LynxJSON of ours)
//   LynxReplication  log shipping and leadership: the leader's feed, followers, elections in etcd, terms
//               (LynxEngine + LynxCluster)
//   LynxTransport  the HTTP transport on libmicrohttpd (CMicroHTTPD): server, connection limits, body memory,
//               request context, TLS, request metrics; knows no engine (only LynxSupport of ours)
//   LynxHTTP    the API on the transport: routing, access, decoding, problem+json, metrics exposition
//   lynxd       the executable (flags, signals)
import PackageDescription

// -Ounchecked only where the inner loops live; everything else keeps its checks.
let hotPathFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Lynx",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lynxd", targets: ["lynxd"]),
        .executable(name: "lynx-bench", targets: ["lynx-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CLynxKernels"),
        .target(name: "LynxSupport", dependencies: ["CHeap"]),
        .target(name: "LynxIndex", dependencies: ["CLynxKernels", "LynxSupport"], swiftSettings: hotPathFlags),
        .target(name: "LynxJSON", swiftSettings: hotPathFlags),
        .target(name: "CCRC32C"),
        .target(name: "CFileOps"),
        .target(name: "CHeap"),
        .target(name: "LynxStorage", dependencies: ["CCRC32C", "CFileOps", "LynxSupport"]),
        .target(
            name: "LynxEngine",
            dependencies: ["LynxIndex", "LynxJSON", "LynxStorage", "LynxSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "LynxCluster", dependencies: ["CCurl", "LynxJSON", "LynxSupport"]),
        .target(
            name: "LynxReplication",
            dependencies: ["LynxCluster", "LynxEngine", "LynxJSON", "LynxStorage", "LynxIndex", "LynxSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "LynxTransport",
            dependencies: ["CMicroHTTPD", "LynxSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "LynxHTTP",
            dependencies: ["LynxTransport", "LynxEngine", "LynxReplication", "LynxJSON", "LynxIndex", "LynxStorage", "LynxSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "lynxd",
            dependencies: [
                "LynxHTTP", "LynxTransport", "LynxEngine", "LynxReplication", "LynxStorage", "LynxJSON", "LynxIndex", "LynxSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "lynx-bench",
            dependencies: ["LynxIndex", "LynxSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: hotPathFlags
        ),
        .testTarget(name: "LynxIndexTests", dependencies: ["LynxIndex", "LynxSupport"]),
        .testTarget(name: "LynxJSONTests", dependencies: ["LynxJSON"]),
        .testTarget(name: "LynxStorageTests", dependencies: ["LynxStorage"]),
        .testTarget(name: "LynxClusterTests", dependencies: ["LynxCluster"]),
        .testTarget(name: "LynxReplicationTests", dependencies: ["LynxReplication", "LynxEngine", "LynxStorage", "LynxSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LynxEngineTests", dependencies: ["LynxEngine", "LynxStorage", "LynxIndex", "LynxJSON", "LynxSupport"]),
        .testTarget(name: "LynxTransportTests", dependencies: ["LynxTransport", "LynxSupport"]),
        .testTarget(name: "LynxHTTPTests", dependencies: ["LynxHTTP", "LynxTransport"]),
    ],
    swiftLanguageModes: [.v5]
)

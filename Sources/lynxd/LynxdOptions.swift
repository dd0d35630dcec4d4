import ArgumentParser
import LynxEngine
import LynxHTTP
import LynxIndex
import LynxReplication

#if canImport(Glibc)
import Glibc
import LynxTransport
#endif

/// `lynxd`'s command line. Every flag also reads an environment variable (for containers); a flag given on
/// the command line wins over the variable, which wins over the default.
struct LynxdOptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lynxd",
        abstract: "Lynx vector database: an HTTP service for k-nearest-neighbour search with a write-ahead log.",
        discussion: """
            Every flag can also be set through the environment variable shown beside it; the flag wins.
            The data directory's manifest fixes dimension, metric and index at first start; a later start that
            asks for different ones refuses to run and says which.
            Examples:
              lynxd                                   # 127.0.0.1:7311, ./lynx-data, 384-d, l2, hnsw
              lynxd --dimension 768 --metric cosine --data-dir /var/lib/lynx
              LYNX_HOST=0.0.0.0 LYNX_PORT=8080 lynxd
            Operator tools (read only; each has its own --help):
              lynxd check --data-dir D [--json]       # verify a data directory, print what recovery would do
              lynxd dump-wal --data-dir D [--collection NAME] [--from-lsn N] [--json]   # print every log frame
            """)

    @Option(help: "Address to listen on, IPv4 or IPv6 (env LYNX_HOST; default \(LynxdSettings.defaults.server.host)).")
    var host: String?
    @Option(help: "TCP port; 0 picks a free one (env LYNX_PORT; default \(LynxdSettings.defaults.server.port)).")
    var port: Int?
    @Option(name: .customLong("data-dir"), help: "Data directory: manifest, snapshots, log (env LYNX_DATA_DIR; default \(LynxdSettings.defaults.engine.dataDir)).")
    var dataDir: String?
    @Option(help: "Vector dimension, fixed at first start (env LYNX_DIMENSION; default \(EngineConfig.defaultDimension), then the manifest's).")
    var dimension: Int?
    @Option(help: "Distance: l2 | cosine | dot, fixed at first start (env LYNX_METRIC; default \(EngineConfig.defaultMetric.rawValue)).")
    var metric: String?
    @Option(help: "Index: hnsw | ivf | flat, fixed at first start (env LYNX_INDEX; default \(IndexSpec.defaultKind.rawValue)).")
    var index: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted; larger gets 413 (env LYNX_MAX_BODY_BYTES; default \(LynxdSettings.defaults.server.maxBodyBytes)).")
    var maxBodyBytes: Int?
    @Option(name: .customLong("max-batch"), help: "Most records in one POST /vectors batch, queries in one POST /search/batch, ids in one POST /vectors/get or /vectors/delete, and records in one GET /vectors page; more gets 422 (env LYNX_MAX_BATCH; default \(LynxdSettings.defaults.engine.maxBatch)).")
    var maxBatch: Int?
    @Option(name: .customLong("max-search-results"), help: "Most results one search may ask for: queries times k; more gets 422 (env LYNX_MAX_SEARCH_RESULTS; default \(LynxdSettings.defaults.readLimits.maxSearchResults)).")
    var maxSearchResults: Int?
    @Option(name: .customLong("max-response-bytes"), help: "Largest answer to a read (search, GET /vectors, POST /vectors/get), in bytes of JSON and of the vectors and metadata copied to make it; larger gets 422 (env LYNX_MAX_RESPONSE_BYTES; default \(LynxdSettings.defaults.readLimits.maxResponseBytes)).")
    var maxResponseBytes: Int?
    @Option(name: .customLong("max-metadata-bytes"), help: "Largest metadata of one record, in bytes of compact JSON; more gets 422 (env LYNX_MAX_METADATA_BYTES; default \(LynxdSettings.defaults.maxMetadataBytes)).")
    var maxMetadataBytes: Int?
    @Option(name: .customLong("max-collections"), help: "Most collections besides default; PUT /collections/{name} beyond it gets 409 (env LYNX_MAX_COLLECTIONS; default \(LynxdSettings.defaults.maxCollections)).")
    var maxCollections: Int?
    @Option(name: .customLong("max-connections"), help: "Open connections at most; more wait in the backlog (env LYNX_MAX_CONNECTIONS; default \(LynxdSettings.defaults.server.maxConnections)).")
    var maxConnections: Int?
    @Option(name: .customLong("connection-timeout"), help: "Seconds an idle or stalled connection is kept (env LYNX_CONNECTION_TIMEOUT; default \(LynxdSettings.defaults.server.connectionTimeoutSeconds)).")
    var connectionTimeout: Int?
    // Server limits and TLS.
    @Option(name: .customLong("max-connections-per-ip"), help: "Open connections from one client address at most; past it new ones are closed (env LYNX_MAX_CONNECTIONS_PER_IP; default \(LynxdSettings.defaults.server.maxConnectionsPerIP)).")
    var maxConnectionsPerIP: Int?
    @Option(name: .customLong("request-timeout"), help: "Seconds a connection has to deliver a whole request (headers and body) after it was accepted or answered; then it is closed (env LYNX_REQUEST_TIMEOUT; default \(shown(LynxdSettings.defaults.server.requestTimeoutSeconds))).")
    var requestTimeout: Double?
    @Option(name: .customLong("max-body-memory"), help: "Bytes of request bodies held in memory at once, all requests together; a body that would pass it gets 503 with Retry-After (env LYNX_MAX_BODY_MEMORY; default \(LynxdSettings.defaults.server.maxBodyMemory)).")
    var maxBodyMemory: Int?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain) to serve HTTPS with; needs --tls-key (env LYNX_TLS_CERT).")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert (env LYNX_TLS_KEY).")
    var tlsKey: String?
    @Option(help: "HTTP worker threads (env LYNX_THREADS; default: number of cores).")
    var threads: Int?
    @Option(help: "flush: durable on POST /flush, checkpoints and every --sync-interval; always: acknowledge only durable writes (env LYNX_SYNC; default \(LynxdSettings.defaults.engine.syncMode.rawValue)).")
    var sync: String?
    @Option(name: .customLong("sync-interval"), help: "Seconds after which an acknowledged write is synced in flush mode (env LYNX_SYNC_INTERVAL; default \(shown(LynxdSettings.defaults.engine.syncIntervalSeconds))).")
    var syncInterval: Double?
    @Option(help: "on | off. off: no log; data persists only through checkpoints (env LYNX_WAL; default \(LynxdSettings.defaults.engine.walEnabled ? "on" : "off")).")
    var wal: String?
    @Option(name: .customLong("checkpoint-wal-bytes"), help: "Checkpoint when the log holds this many bytes (env LYNX_CHECKPOINT_WAL_BYTES; default \(LynxdSettings.defaults.engine.checkpointWALBytes)).")
    var checkpointWALBytes: Int?
    @Option(name: .customLong("checkpoint-interval"), help: "Checkpoint at least this often, in seconds, when there are new writes (env LYNX_CHECKPOINT_INTERVAL; default \(shown(LynxdSettings.defaults.engine.checkpointIntervalSeconds))).")
    var checkpointInterval: Double?
    @Option(help: "Codes searched on, then rescored from the full vectors: none | sq8 (one byte per dimension) | rabitq:B (extended RaBitQ, B bits per dimension, 1...8; dimensions up to 2048), hnsw only, fixed at first start (env LYNX_QUANTIZATION; default none).")
    var quantization: String?
    @Flag(name: .customLong("on-disk"), help: "Keep the full vectors in their files, read in place, instead of in memory; hnsw only, fixed at first start (env LYNX_ON_DISK=true).")
    var onDisk = false
    @Option(name: .customLong("hnsw-m"), help: "HNSW links per node (env LYNX_HNSW_M; default \(IndexParameter.m.defaultValue)).")
    var hnswM: Int?
    @Option(name: .customLong("hnsw-ef-construction"), help: "HNSW candidate list size while building (env LYNX_HNSW_EF_CONSTRUCTION; default \(IndexParameter.efConstruction.defaultValue)).")
    var hnswEfConstruction: Int?
    @Option(name: .customLong("hnsw-ef-search"), help: "HNSW default candidate list size while searching; a search may pass ef_search (env LYNX_HNSW_EF_SEARCH; default \(LynxdSettings.defaults.engine.hnswEfSearch)).")
    var hnswEfSearch: Int?
    @Option(name: .customLong("hnsw-seed"), help: "Seed of HNSW's level generator, for reproducible builds (env LYNX_HNSW_SEED; default random).")
    var hnswSeed: UInt64?
    @Option(name: .customLong("index-threads"), help: "HNSW: link acknowledged records into the graph in the background; 0 links each write before acknowledging it (env LYNX_INDEX_THREADS; default: number of cores).")
    var indexThreads: Int?
    @Option(name: .customLong("index-max-pending"), help: "HNSW: most records acknowledged but not yet linked; beyond it writes wait, then get 503 (env LYNX_INDEX_MAX_PENDING; default \(LynxdSettings.defaults.engine.indexMaxPending)).")
    var indexMaxPending: Int?
    @Option(name: .customLong("index-pending-wait"), help: "Seconds a write waits for room below --index-max-pending before its 503 (env LYNX_INDEX_PENDING_WAIT; default \(shown(LynxdSettings.defaults.engine.indexPendingWaitSeconds))).")
    var indexPendingWait: Double?
    @Option(name: .customLong("shutdown-checkpoint-timeout"), help: "Seconds a clean shutdown may spend on its checkpoint; past it lynxd exits and the next start replays the log (env LYNX_SHUTDOWN_CHECKPOINT_TIMEOUT; default \(shown(LynxdSettings.defaults.engine.shutdownCheckpointSeconds))).")
    var shutdownCheckpointTimeout: Double?
    @Option(name: .customLong("ivf-clusters"), help: "IVF clusters; 0 = √n when it trains (env LYNX_IVF_CLUSTERS; default \(IndexParameter.clusters.defaultValue)).")
    var ivfClusters: Int?
    @Option(name: .customLong("ivf-n-probe"), help: "IVF default clusters probed per search (env LYNX_IVF_N_PROBE; default \(LynxdSettings.defaults.engine.ivfNProbe)).")
    var ivfNProbe: Int?
    @Option(name: .customLong("ivf-spill"), help: "IVF copies per vector beyond the first: 0 or 1 (SOAR spill: better recall per probe, 2x vector memory); fixed at first start (env LYNX_IVF_SPILL; default \(IndexParameter.spill.defaultValue)).")
    var ivfSpill: Int?
    @Option(name: .customLong("keep-backups"), help: "Backups (POST /snapshots) kept per collection; making one more removes the oldest (env LYNX_KEEP_BACKUPS; default \(LynxdSettings.defaults.engine.backupsKept)).")
    var keepBackups: Int?
    @Option(name: .customLong("log-level"), help: "trace | debug | info | notice | warning | error | critical (env LYNX_LOG_LEVEL; default \(LynxdSettings.defaults.logLevel)).")
    var logLevel: String?

    // Access control, probes, log format (LynxdOptions+Access.swift resolves them).
    @Option(name: .customLong("api-key"), help: "Key every request must present (Authorization: Bearer KEY or api-key: KEY); prefer --api-key-file, which keeps it out of ps (env LYNX_API_KEY; default none).")
    var apiKey: String?
    @Option(name: .customLong("api-key-file"), help: "File whose first line (trimmed) is the API key (env LYNX_API_KEY_FILE).")
    var apiKeyFile: String?
    @Option(name: .customLong("read-only-api-key"), help: "Key that allows reads only; writes with it get 403. Needs --api-key (env LYNX_READ_ONLY_API_KEY).")
    var readOnlyAPIKey: String?
    @Option(name: .customLong("read-only-api-key-file"), help: "File whose first line (trimmed) is the read-only key (env LYNX_READ_ONLY_API_KEY_FILE).")
    var readOnlyAPIKeyFile: String?
    @Flag(name: .customLong("auth-metrics"), help: "Require a key for /health, /health/ready and /metrics too; /health/live stays open (env LYNX_AUTH_METRICS=true).")
    var authMetrics = false
    @Flag(name: .customLong("allow-unauthenticated"), help: "Allow listening on a non-loopback address without an API key (env LYNX_ALLOW_UNAUTHENTICATED=true).")
    var allowUnauthenticated = false
    @Option(name: .customLong("min-free-disk-bytes"), help: "Below this many free bytes on the data directory's filesystem /health/ready answers 503 disk-full; 0 turns the check off (env LYNX_MIN_FREE_DISK_BYTES; default \(LynxdSettings.defaults.minFreeDiskBytes)).")
    var minFreeDiskBytes: UInt64?
    @Option(name: .customLong("log-format"), help: "text | json: one JSON object per line (env LYNX_LOG_FORMAT; default \(LynxdSettings.defaults.logFormat.rawValue)).")
    var logFormat: String?

    // Replication (LynxdOptions+Cluster.swift resolves them, docs/REPLICATION.md explains them).
    @Option(name: .customLong("etcd-endpoints"), help: "Comma-separated etcd client URLs; with them lynxd joins a cluster (env LYNX_ETCD_ENDPOINTS; default none: a single node).")
    var etcdEndpoints: String?
    @Option(name: .customLong("cluster"), help: "Cluster name: the etcd keys live under /lynx/NAME/ (env LYNX_CLUSTER; default \(ClusterFlagDefaults.cluster)).")
    var cluster: String?
    @Option(name: .customLong("node-name"), help: "This node's name in the cluster, unique in it; needed with --etcd-endpoints (env LYNX_NODE_NAME).")
    var nodeName: String?
    @Option(name: .customLong("advertise-url"), help: "URL the other nodes reach this one at (env LYNX_ADVERTISE_URL; default http://HOST:PORT).")
    var advertiseURL: String?
    @Option(name: .customLong("replication"), help: "async: the leader acknowledges alone; sync: a write is acknowledged once --sync-replicas followers have it durable (env LYNX_REPLICATION; default \(ClusterFlagDefaults.replication)).")
    var replication: String?
    @Option(name: .customLong("sync-replicas"), help: "With --replication sync: followers that must have a write durable before it is acknowledged (env LYNX_SYNC_REPLICAS; default \(ClusterFlagDefaults.syncReplicas)).")
    var syncReplicas: Int?
    @Option(name: .customLong("sync-timeout"), help: "With --replication sync: seconds a write waits for its followers before its 503 replication-timeout (env LYNX_SYNC_TIMEOUT; default \(shown(ClusterFlagDefaults.syncTimeoutSeconds))).")
    var syncTimeout: Double?
    @Option(name: .customLong("lease-ttl"), help: "Seconds of the node's etcd lease; a dead leader is replaced within about this (env LYNX_LEASE_TTL; default \(ClusterFlagDefaults.leaseTTLSeconds)).")
    var leaseTTL: Int?
    @Option(name: .customLong("replication-window-bytes"), help: "Bytes of each store's newest transactions a leader keeps in memory for its followers; one further behind starts over from a snapshot (env LYNX_REPLICATION_WINDOW_BYTES; default \(ClusterFlagDefaults.windowBytes)).")
    var replicationWindowBytes: Int?
}

/// A configuration mistake: reported as one line, exit status 2.
struct ConfigError: Error, CustomStringConvertible {
    let description: String
}

/// The resolved settings of one run. Its initial values are the flags' defaults, written only here (or in the
/// types whose defaults these are): `resolve` starts from them and the help text shows them.
struct LynxdSettings {
    var server = ServerConfig()
    var maxCollections = 1024
    var maxMetadataBytes = 65_536
    var readLimits = ReadLimits()
    var engine = EngineConfig()
    var logLevel = "info"
    var logFormat = LogFormat.text
    var access = AccessPolicy.open
    var allowUnauthenticated = false
    var minFreeDiskBytes = LynxAPI.defaultMinFreeDiskBytes
    /// nil: a single node.
    var cluster: ClusterConfig?
    /// The full key, which a follower presents to its leader (never logged).
    var fullAPIKey: String?

    /// The settings of a run given no flag, before the defaults that depend on the machine or other flags.
    static var defaults: LynxdSettings { LynxdSettings() }
}

/// A number of seconds as the help text shows it: `30`, `0.5`.
private func shown(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
}

extension LynxdOptions {
    func resolve(environment env: [String: String]) throws -> LynxdSettings {
        var s = LynxdSettings()
        func string(_ flag: String?, _ name: String) -> String? { flag ?? env[name] }
        func int(_ flag: Int?, _ name: String, _ option: String, _ range: ClosedRange<Int>) throws -> Int? {
            let value: Int?
            if let flag { value = flag } else if let text = env[name] {
                guard let v = Int(text) else { throw ConfigError(description: "\(name)='\(text)' is not an integer (--\(option))") }
                value = v
            } else { value = nil }
            if let value, !range.contains(value) {
                throw ConfigError(description: "--\(option) \(value) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        func double(_ flag: Double?, _ name: String, _ option: String, min: Double) throws -> Double? {
            let value: Double?
            if let flag { value = flag } else if let text = env[name] {
                guard let v = Double(text) else { throw ConfigError(description: "\(name)='\(text)' is not a number (--\(option))") }
                value = v
            } else { value = nil }
            if let value, !(value.isFinite && value >= min) {
                throw ConfigError(description: "--\(option) \(value) must be at least \(min)")
            }
            return value
        }
        func choice<T: RawRepresentable & CaseIterable>(_ flag: String?, _ name: String, _ option: String, _: T.Type) throws -> T? where T.RawValue == String {
            guard let text = string(flag, name) else { return nil }
            guard let v = T(rawValue: text.lowercased()) else {
                throw ConfigError(description: "--\(option) '\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return v
        }

        s.server.host = string(host, "LYNX_HOST") ?? s.server.host
        s.server.port = UInt16(try int(port, "LYNX_PORT", "port", 0...65535) ?? Int(s.server.port))
        s.server.maxBodyBytes = try int(maxBodyBytes, "LYNX_MAX_BODY_BYTES", "max-body-bytes", 64...(1 << 31)) ?? s.server.maxBodyBytes
        s.server.maxConnections = try int(maxConnections, "LYNX_MAX_CONNECTIONS", "max-connections", 1...100_000) ?? s.server.maxConnections
        s.server.connectionTimeoutSeconds = try int(connectionTimeout, "LYNX_CONNECTION_TIMEOUT", "connection-timeout", 1...86_400) ?? s.server.connectionTimeoutSeconds
        s.server.maxConnectionsPerIP = try int(maxConnectionsPerIP, "LYNX_MAX_CONNECTIONS_PER_IP", "max-connections-per-ip", 1...100_000) ?? s.server.maxConnectionsPerIP
        s.server.requestTimeoutSeconds = try double(requestTimeout, "LYNX_REQUEST_TIMEOUT", "request-timeout", min: 0.1) ?? s.server.requestTimeoutSeconds
        s.server.maxBodyMemory = try int(maxBodyMemory, "LYNX_MAX_BODY_MEMORY", "max-body-memory", 64...(1 << 40)) ?? s.server.maxBodyMemory
        switch (string(tlsCert, "LYNX_TLS_CERT"), string(tlsKey, "LYNX_TLS_KEY")) {
        case (nil, nil): break
        case (let cert?, let key?):
            do { s.server.tls = try TLSCredentials(certificateFile: cert, keyFile: key) } catch {
                throw ConfigError(description: "\(error)")
            }
        case (_?, nil): throw ConfigError(description: "--tls-cert needs --tls-key (the certificate's private key)")
        case (nil, _?): throw ConfigError(description: "--tls-key needs --tls-cert (the key's certificate)")
        }
        s.server.threads = try int(threads, "LYNX_THREADS", "threads", 1...256) ?? max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

        s.engine.dataDir = string(dataDir, "LYNX_DATA_DIR") ?? s.engine.dataDir
        s.engine.dimension = try int(dimension, "LYNX_DIMENSION", "dimension", CollectionSettings.dimensionRange)
        s.engine.metric = try choice(metric, "LYNX_METRIC", "metric", Metric.self)
        s.engine.index = try choice(index, "LYNX_INDEX", "index", IndexKind.self)
        s.engine.maxBatch = try int(maxBatch, "LYNX_MAX_BATCH", "max-batch", 1...1_000_000) ?? s.engine.maxBatch
        s.readLimits.maxSearchResults = try int(maxSearchResults, "LYNX_MAX_SEARCH_RESULTS", "max-search-results", 1...100_000_000) ?? s.readLimits.maxSearchResults
        s.readLimits.maxResponseBytes = try int(maxResponseBytes, "LYNX_MAX_RESPONSE_BYTES", "max-response-bytes", 1024...(1 << 40)) ?? s.readLimits.maxResponseBytes
        s.maxMetadataBytes = try int(maxMetadataBytes, "LYNX_MAX_METADATA_BYTES", "max-metadata-bytes", 2...(1 << 24)) ?? s.maxMetadataBytes
        s.maxCollections = try int(maxCollections, "LYNX_MAX_COLLECTIONS", "max-collections", 0...100_000) ?? s.maxCollections
        s.engine.syncMode = try choice(sync, "LYNX_SYNC", "sync", SyncMode.self) ?? s.engine.syncMode
        s.engine.syncIntervalSeconds = try double(syncInterval, "LYNX_SYNC_INTERVAL", "sync-interval", min: 0.001) ?? s.engine.syncIntervalSeconds
        switch string(wal, "LYNX_WAL")?.lowercased() {
        case nil: break
        case "on"?: s.engine.walEnabled = true
        case "off"?: s.engine.walEnabled = false
        case let other?: throw ConfigError(description: "--wal '\(other)' is not one of on, off")
        }
        if !s.engine.walEnabled && s.engine.syncMode == .always {
            throw ConfigError(description: "--sync always needs the log; it cannot be combined with --wal off")
        }
        s.engine.checkpointWALBytes = try int(checkpointWALBytes, "LYNX_CHECKPOINT_WAL_BYTES", "checkpoint-wal-bytes", 4096...(1 << 40)) ?? s.engine.checkpointWALBytes
        s.engine.checkpointIntervalSeconds = try double(checkpointInterval, "LYNX_CHECKPOINT_INTERVAL", "checkpoint-interval", min: 1) ?? s.engine.checkpointIntervalSeconds
        if let text = string(quantization, "LYNX_QUANTIZATION") {
            guard let q = Quantization(text: text.lowercased()) else {
                throw ConfigError(description: "--quantization '\(text)' is not one of \(Quantization.textForms)")
            }
            s.engine.indexParameters.quantization = q
        }
        if try boolean(onDisk, env, "on-disk", "LYNX_ON_DISK") { s.engine.indexParameters.onDisk = true }
        s.engine.indexParameters[.m] = try int(hnswM, "LYNX_HNSW_M", "hnsw-m", IndexParameter.m.range)
        s.engine.indexParameters[.efConstruction] = try int(
            hnswEfConstruction, "LYNX_HNSW_EF_CONSTRUCTION", "hnsw-ef-construction", IndexParameter.efConstruction.range)
        s.engine.hnswEfSearch = try int(hnswEfSearch, "LYNX_HNSW_EF_SEARCH", "hnsw-ef-search", 1...10_000) ?? s.engine.hnswEfSearch
        if let seed = hnswSeed { s.engine.hnswSeed = seed } else if let text = env["LYNX_HNSW_SEED"] {
            guard let seed = UInt64(text) else { throw ConfigError(description: "LYNX_HNSW_SEED='\(text)' is not an unsigned integer (--hnsw-seed)") }
            s.engine.hnswSeed = seed
        }
        s.engine.indexThreads = try int(indexThreads, "LYNX_INDEX_THREADS", "index-threads", 0...256) ?? s.engine.indexThreads
        s.engine.indexMaxPending = try int(indexMaxPending, "LYNX_INDEX_MAX_PENDING", "index-max-pending", 1...100_000_000) ?? s.engine.indexMaxPending
        s.engine.indexPendingWaitSeconds = try double(indexPendingWait, "LYNX_INDEX_PENDING_WAIT", "index-pending-wait", min: 0) ?? s.engine.indexPendingWaitSeconds
        s.engine.shutdownCheckpointSeconds = try double(shutdownCheckpointTimeout, "LYNX_SHUTDOWN_CHECKPOINT_TIMEOUT", "shutdown-checkpoint-timeout", min: 0) ?? s.engine.shutdownCheckpointSeconds
        s.engine.indexParameters[.clusters] = try int(ivfClusters, "LYNX_IVF_CLUSTERS", "ivf-clusters", IndexParameter.clusters.range)
        s.engine.ivfNProbe = try int(ivfNProbe, "LYNX_IVF_N_PROBE", "ivf-n-probe", 1...1_000_000) ?? s.engine.ivfNProbe
        s.engine.indexParameters[.spill] = try int(ivfSpill, "LYNX_IVF_SPILL", "ivf-spill", IndexParameter.spill.range)
        if let kind = s.engine.index, let q = s.engine.indexParameters.quantization, q != .none, !Quantization.indexes.contains(kind) {
            throw ConfigError(description: "--quantization \(q.text) is for the hnsw index, not --index \(kind.rawValue)")
        }
        if let dimension = s.engine.dimension, let reason = s.engine.indexParameters.quantization?.refusal(dimension: dimension) {
            throw ConfigError(description: "--quantization: \(reason) (--dimension)")
        }
        if let kind = s.engine.index, s.engine.indexParameters.onDisk == true, !IndexSpec.onDiskIndexes.contains(kind) {
            throw ConfigError(description: "--on-disk is for the hnsw index, not --index \(kind.rawValue)")
        }
        s.engine.backupsKept = try int(keepBackups, "LYNX_KEEP_BACKUPS", "keep-backups", 1...10_000) ?? s.engine.backupsKept
        s.logLevel = (string(logLevel, "LYNX_LOG_LEVEL") ?? s.logLevel).lowercased()
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(s.logLevel) else {
            throw ConfigError(description: "--log-level '\(s.logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        s.logFormat = try choice(logFormat, "LYNX_LOG_FORMAT", "log-format", LogFormat.self) ?? s.logFormat
        try resolveAccess(into: &s, environment: env)
        try resolveCluster(into: &s, environment: env)
        return s
    }
}

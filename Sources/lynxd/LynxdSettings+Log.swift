import Logging
import LynxReplication
import LynxTransport

extension LynxdSettings {
    /// Every setting of this run, keyed by its flag's name with `_` for `-`, for the start-up `configuration`
    /// line. Keys are never written: `api_key` and `read_only_api_key` say `set` or `unset`. Settings fixed in
    /// the manifest that were not asked for say `manifest` (the `listening` line gives the values in effect).
    var logMetadata: Logger.Metadata {
        let e = engine
        func asked<T>(_ value: T?) -> Logger.MetadataValue { value.map { "\($0)" } ?? "manifest" }
        return [
            "host": "\(server.host)", "port": "\(server.port)", "data_dir": "\(e.dataDir)",
            "dimension": asked(e.dimension), "metric": asked(e.metric?.rawValue), "index": asked(e.index?.rawValue),
            "max_body_bytes": "\(server.maxBodyBytes)", "max_batch": "\(e.maxBatch)", "max_connections": "\(server.maxConnections)",
            "connection_timeout": "\(server.connectionTimeoutSeconds)", "threads": "\(server.threads)",
            "sync": "\(e.syncMode.rawValue)", "sync_interval": "\(e.syncIntervalSeconds)",
            "checkpoint_wal_bytes": "\(e.checkpointWALBytes)", "checkpoint_interval": "\(e.checkpointIntervalSeconds)",
            "hnsw_m": asked(e.indexParameters[.m]), "hnsw_ef_construction": asked(e.indexParameters[.efConstruction]), "hnsw_ef_search": "\(e.hnswEfSearch)",
            "ivf_clusters": asked(e.indexParameters[.clusters]), "ivf_n_probe": "\(e.ivfNProbe)", "log_level": "\(logLevel)",
            "quantization": "\(e.indexParameters.quantization?.text ?? "manifest")",
            "on_disk": e.indexParameters.onDisk == true ? "true" : "manifest",
            "wal": e.walEnabled ? "on" : "off", "hnsw_seed": e.hnswSeed.map { "\($0)" } ?? "random", "ivf_spill": asked(e.indexParameters[.spill]),
            "index_threads": "\(e.indexThreads)", "index_max_pending": "\(e.indexMaxPending)",
            "index_pending_wait": "\(e.indexPendingWaitSeconds)", "shutdown_checkpoint_timeout": "\(e.shutdownCheckpointSeconds)",
            "max_collections": "\(maxCollections)", "max_metadata_bytes": "\(maxMetadataBytes)",
            "max_search_results": "\(readLimits.maxSearchResults)", "max_response_bytes": "\(readLimits.maxResponseBytes)",
            "auth_metrics": "\(access.protectsProbes)", "allow_unauthenticated": "\(allowUnauthenticated)",
            "min_free_disk_bytes": "\(minFreeDiskBytes)", "log_format": "\(logFormat.rawValue)",
            "max_connections_per_ip": "\(server.maxConnectionsPerIP)", "request_timeout": "\(server.requestTimeoutSeconds)",
            "max_body_memory": "\(server.maxBodyMemory)", "keep_backups": "\(e.backupsKept)",
            // TLS files: only whether they are in use (the key's path is the operator's business, not the log's).
            "tls_cert": server.tls == nil ? "unset" : "set", "tls_key": server.tls == nil ? "unset" : "set",
            "etcd_endpoints": "\(cluster?.etcdEndpoints.joined(separator: ",") ?? "none")", "cluster": "\(cluster?.cluster ?? "none")",
            "node_name": "\(cluster?.nodeName ?? "none")", "advertise_url": "\(cluster?.advertiseURL ?? "none")",
            "replication": "\(cluster.map { if case .sync = $0.mode { return "sync" } else { return "async" } } ?? "none")",
            "sync_replicas": "\(cluster.map { if case .sync(let k) = $0.mode { return "\(k)" } else { return "none" } } ?? "none")",
            "sync_timeout": "\(cluster?.syncTimeoutSeconds ?? 0)", "lease_ttl": "\(cluster?.leaseTTLSeconds ?? 0)",
            "replication_window_bytes": "\(e.retainedLogBytes)",
            "api_key": access.keys == nil ? "unset" : "set", "read_only_api_key": access.keys?.hasReadOnlyKey == true ? "set" : "unset",
        ]
    }
}

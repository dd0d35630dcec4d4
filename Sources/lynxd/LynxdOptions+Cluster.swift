import LynxEngine
import LynxReplication

/// The defaults of the replication flags (help text and `resolveCluster` read them here).
enum ClusterFlagDefaults {
    static let cluster = "lynx"
    static let replication = "async"
    static let syncReplicas = 1
    static let syncTimeoutSeconds = 5.0
    static let leaseTTLSeconds = 3
    static let windowBytes = 64 << 20
}

extension LynxdOptions {
    /// `--etcd-endpoints` and the flags that only mean something with it.
    func resolveCluster(into s: inout LynxdSettings, environment env: [String: String]) throws {
        func string(_ flag: String?, _ name: String) -> String? { flag ?? env[name] }
        func number<T: LosslessStringConvertible>(_ flag: T?, _ name: String, _ option: String) throws -> T? {
            if let flag { return flag }
            guard let text = env[name] else { return nil }
            guard let v = T(text) else { throw ConfigError(description: "\(name)='\(text)' is not a number (--\(option))") }
            return v
        }
        let windowBytes = try number(replicationWindowBytes, "LYNX_REPLICATION_WINDOW_BYTES", "replication-window-bytes") ?? ClusterFlagDefaults.windowBytes
        guard (1 << 20...1 << 40).contains(windowBytes) else {
            throw ConfigError(description: "--replication-window-bytes \(windowBytes) is out of range 1048576...1099511627776")
        }
        let mode = string(replication, "LYNX_REPLICATION")?.lowercased() ?? ClusterFlagDefaults.replication
        let replicas = try number(syncReplicas, "LYNX_SYNC_REPLICAS", "sync-replicas")
        let timeout = try number(syncTimeout, "LYNX_SYNC_TIMEOUT", "sync-timeout") ?? ClusterFlagDefaults.syncTimeoutSeconds
        let ttl = try number(leaseTTL, "LYNX_LEASE_TTL", "lease-ttl") ?? ClusterFlagDefaults.leaseTTLSeconds
        guard let endpoints = string(etcdEndpoints, "LYNX_ETCD_ENDPOINTS"), !endpoints.isEmpty else {
            for (given, flag) in [(nodeName ?? env["LYNX_NODE_NAME"], "--node-name"), (replication ?? env["LYNX_REPLICATION"], "--replication"),
                                  (replicas.map { "\($0)" }, "--sync-replicas")] where given != nil {
                throw ConfigError(description: "\(flag) needs --etcd-endpoints (a cluster); without it lynxd is a single node")
            }
            return
        }
        let urls = endpoints.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }
        guard urls.allSatisfy({ $0.hasPrefix("http://") || $0.hasPrefix("https://") }) else {
            throw ConfigError(description: "--etcd-endpoints '\(endpoints)': expected comma-separated http:// or https:// URLs")
        }
        guard let name = string(nodeName, "LYNX_NODE_NAME"), CollectionName.isValid(name) else {
            throw ConfigError(description: "--etcd-endpoints needs --node-name: 1 to 64 ASCII letters, digits, '_' and '-', unique in the cluster")
        }
        let clusterName = string(cluster, "LYNX_CLUSTER") ?? ClusterFlagDefaults.cluster
        guard CollectionName.isValid(clusterName) else {
            throw ConfigError(description: "--cluster '\(clusterName)': 1 to 64 ASCII letters, digits, '_' and '-'")
        }
        let scheme = s.server.tls == nil ? "http" : "https"
        let advertised = string(advertiseURL, "LYNX_ADVERTISE_URL") ?? "\(scheme)://\(hostForURL(s.server.host)):\(s.server.port)"
        guard advertised.hasPrefix("http://") || advertised.hasPrefix("https://") else {
            throw ConfigError(description: "--advertise-url '\(advertised)': expected an http:// or https:// URL")
        }
        guard (2...3600).contains(ttl) else { throw ConfigError(description: "--lease-ttl \(ttl) is out of range 2...3600") }
        guard timeout.isFinite && timeout > 0 else { throw ConfigError(description: "--sync-timeout \(timeout) must be above 0") }
        let replicationMode: ReplicationMode
        switch mode {
        case "async":
            if replicas != nil { throw ConfigError(description: "--sync-replicas needs --replication sync") }
            replicationMode = .async
        case "sync":
            let k = replicas ?? ClusterFlagDefaults.syncReplicas
            guard (1...64).contains(k) else { throw ConfigError(description: "--sync-replicas \(k) is out of range 1...64") }
            replicationMode = .sync(replicas: k)
        default:
            throw ConfigError(description: "--replication '\(mode)' is not one of async, sync")
        }
        if s.server.port == 0 && string(advertiseURL, "LYNX_ADVERTISE_URL") == nil {
            throw ConfigError(description: "--port 0 needs --advertise-url: the other nodes must know where to reach this one")
        }
        if !s.engine.walEnabled {
            throw ConfigError(description: "--etcd-endpoints needs the log: replication ships it, so it cannot be combined with --wal off")
        }
        s.engine.retainedLogBytes = windowBytes
        s.cluster = ClusterConfig(etcdEndpoints: urls, cluster: clusterName, nodeName: name, advertiseURL: advertised,
                                  leaseTTLSeconds: ttl, mode: replicationMode, syncTimeoutSeconds: timeout,
                                  apiKey: s.fullAPIKey)
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var t = Substring(self)
        while t.first == set { t.removeFirst() }
        while t.last == set { t.removeLast() }
        return String(t)
    }
}

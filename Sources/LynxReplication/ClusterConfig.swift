/// How writes are acknowledged in a cluster.
public enum ReplicationMode: Sendable, Equatable {
    /// By the leader alone, as a single node does; a failover loses what the new leader had not received.
    case async
    /// Once `replicas` followers have the write durable too.
    case sync(replicas: Int)
}

/// A node's place in a cluster (lynxd's `--etcd-endpoints`, `--cluster`, `--node-name`, ...).
public struct ClusterConfig: Sendable {
    public var etcdEndpoints: [String]
    public var cluster: String
    public var nodeName: String
    /// What other nodes use to reach this one (`http://host:port`).
    public var advertiseURL: String
    public var leaseTTLSeconds: Int
    public var mode: ReplicationMode
    /// How long a `sync` write waits for its followers before it is answered 503.
    public var syncTimeoutSeconds: Double
    /// The key this node presents to the leader (the cluster's nodes share the service's full key), if any.
    public var apiKey: String?

    public init(etcdEndpoints: [String], cluster: String, nodeName: String, advertiseURL: String, leaseTTLSeconds: Int = 3,
                mode: ReplicationMode = .async, syncTimeoutSeconds: Double = 5, apiKey: String? = nil) {
        self.etcdEndpoints = etcdEndpoints
        self.cluster = cluster
        self.nodeName = nodeName
        self.advertiseURL = advertiseURL
        self.leaseTTLSeconds = leaseTTLSeconds
        self.mode = mode
        self.syncTimeoutSeconds = syncTimeoutSeconds
        self.apiKey = apiKey
    }

    // MARK: - Timings of the election and of fencing (docs/REPLICATION.md, "Election" and "Fencing")

    /// The control loop's period: lease keep-alives, publication and the leader watch run at most this often.
    public static let controlPeriodSeconds = 0.05
    /// How often a node publishes its position and role under `nodes/`.
    public static let publishPeriodSeconds = 0.2
    /// How long a node waits with no leader before it considers campaigning (positions settle meanwhile).
    public static let campaignDelaySeconds = 0.4
    /// Past this many TTLs without a leader any node campaigns, not only the best placed.
    public static let campaignFallbackTTLs = 3.0
    /// A keep-alive is sent every `ttl × keepAliveFraction`.
    public static let keepAliveFraction = 0.25
    /// A leader acknowledges writes until `ttl × acknowledgeFraction` after its last keep-alive was sent: a lease
    /// cannot expire in etcd before that, whatever the clock drift between the two within a quarter TTL.
    public static let acknowledgeFraction = 0.75

    var ttlSeconds: Double { Double(leaseTTLSeconds) }

    var leaderKey: String { "/lynx/\(cluster)/leader" }
    var nodesPrefix: String { "/lynx/\(cluster)/nodes/" }
    var nodeKey: String { nodesPrefix + nodeName }
}

/// What a node is doing now.
public enum NodeRole: String, Sendable {
    /// Holds the leader key: takes writes and feeds the followers.
    case leader
    /// Applies a leader's log; serves reads; refuses writes naming the leader.
    case follower
    /// Knows no leader (at start, after the leader's key expired, or after losing its own lease).
    case candidate
}

import LynxSupport

/// Why this node takes no client writes now: another node leads the store (`leader`, when one is known). Strings
/// only: who leads, and how nodes agree on it, is the replication layer's.
public struct WriteRefusal: Error, Equatable, Sendable {
    /// This node's name.
    public var node: String
    /// The leader's name and URL; nil while none is known (an election, or a leader whose lease may be expiring).
    public var leaderNode: String?
    public var leaderURL: String?

    public init(node: String, leaderNode: String? = nil, leaderURL: String? = nil) {
        self.node = node
        self.leaderNode = leaderNode
        self.leaderURL = leaderURL
    }
}

/// Whether the stores of this node take client writes (upserts, deletes, metadata index changes, collections made
/// or deleted): the one check, made by the engine and the database before anything is written. A single node's gate
/// is open; a node of a cluster installs the rule that only the leader writes (`ClusterNode`). Writes a node makes
/// as a copy of its leader's (replicated transactions, collections from the leader's catalog) and maintenance of
/// its own copy (flush, checkpoint, rebuild, backups) do not pass through it.
///
/// Threads: any.
public final class WriteGate: Sendable {
    private let rule = PlainMutex<(@Sendable () -> WriteRefusal?)?>(nil)

    public init() {}

    /// Installs the rule (once, before requests are served).
    public func install(_ rule: @escaping @Sendable () -> WriteRefusal?) {
        self.rule.withLock { $0 = rule }
    }

    /// Why a client write is refused now; nil: it may go on.
    public func refusal() -> WriteRefusal? {
        rule.withLock { $0 }?()
    }
}

import LynxStorage

/// A follower's `GET /replication/log`, as the HTTP layer decoded it from the query.
public struct LogRequest: Sendable, Equatable {
    /// The follower's name (its acknowledgements are kept under it).
    public var node: String
    /// The follower's last LSN of this store; frames after it are wanted.
    public var after: UInt64
    /// The follower's durable LSN of this store (what `--replication sync` counts).
    public var durable: UInt64
    /// The term that wrote the follower's last frame (0: none, or written before any leader).
    public var lastTerm: UInt64
    /// The newest term the follower knows of.
    public var term: UInt64
    /// The id of the follower's copy of this store (nil: none given; a follower with an empty store sends none).
    public var storeID: StoreID?
    public var waitSeconds: Double
    public var maxBytes: Int

    public static let maxWaitSeconds = 2.0
    public static let defaultMaxBytes = 4 << 20

    public init(node: String, after: UInt64, durable: UInt64, lastTerm: UInt64, term: UInt64, storeID: StoreID?,
                waitSeconds: Double = 1, maxBytes: Int = LogRequest.defaultMaxBytes) {
        self.node = node
        self.after = after
        self.durable = durable
        self.lastTerm = lastTerm
        self.term = term
        self.storeID = storeID
        self.waitSeconds = waitSeconds
        self.maxBytes = maxBytes
    }
}

extension LogRequest {
    /// The query parameters of `GET /replication/log` (docs/REPLICATION.md, "The log route"): the follower writes
    /// them with `query`, the leader's HTTP layer reads them by these names.
    public enum Parameter: String, CaseIterable, Sendable {
        case after, durable, lastTerm = "last_term", term, storeID = "store_id", node, waitMillis = "wait_ms", maxBytes = "max_bytes"

        /// Every parameter but `node` is an unsigned decimal.
        public var isNumber: Bool { self != .node }
    }

    /// Most bytes of frames a request may ask for.
    public static let maxBytesLimit = 1 << 30

    /// The query string (without `?`) that asks for this request; `max_bytes` only when not the default.
    public var query: String {
        var pairs: [(Parameter, String)] = [
            (.after, String(after)), (.durable, String(durable)), (.lastTerm, String(lastTerm)), (.term, String(term)),
            (.storeID, String(storeID?.rawValue ?? 0)), (.node, node), (.waitMillis, String(Int((waitSeconds * 1000).rounded()))),
        ]
        if maxBytes != Self.defaultMaxBytes { pairs.append((.maxBytes, String(maxBytes))) }
        return pairs.map { "\($0.0.rawValue)=\($0.1)" }.joined(separator: "&")
    }
}

/// The leader's answer to a `LogRequest`.
public enum LogAnswer: Sendable, Equatable {
    /// An encoded `ReplicationBatch` (possibly without transactions, when none came within the wait).
    case batch([UInt8])
    /// The follower is behind what the leader retains: it must start over from a snapshot.
    case snapshotNeeded(startLSN: UInt64)
    /// The follower's log is not a prefix of the leader's from this LSN on (`termKnown`: see
    /// `TermHistory.divergence`).
    case diverged(at: UInt64, termKnown: Bool)
    /// This node does not lead (any more); the leader, when known.
    case notLeader(PeerAddress?)
    case invalid(String)
    /// The store was deleted while the request waited.
    case storeGone
    /// The leader could not serve it (its own storage failed).
    case failed(String)
}

/// A node of the cluster as others reach it.
public struct PeerAddress: Sendable, Equatable {
    public var node: String
    public var url: String
    public init(node: String, url: String) {
        self.node = node
        self.url = url
    }
}

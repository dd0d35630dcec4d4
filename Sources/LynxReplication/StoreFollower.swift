#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import LynxCluster
import LynxEngine
import LynxJSON
import LynxStorage
import LynxSupport

/// What a store's follower reports (`GET /replication`, `/metrics`).
public struct StoreReplicaStatus: Sendable {
    public var lagFrames: UInt64 = 0
    /// Seconds since the store last held everything its leader had durable (0 while it does).
    public var lagSeconds: Double = 0
    public var discardedFrames: UInt64 = 0
    public var bootstraps: Int = 0
    public var appliedFrames: UInt64 = 0

    public init() {}
}

/// Keeps one store of this node in step with the leader's: asks for the log after its last LSN, checks and applies
/// each batch, makes it durable, and asks again (the next request carries the durable LSN: the acknowledgement
/// `sync` counts). Starts over from a leader's snapshot when it is behind the leader's retained log or diverged
/// from it. Runs on its own thread until `stop`.
final class StoreFollower: @unchecked Sendable {
    let store: CollectionName
    private let leader: PeerAddress
    private unowned let node: ClusterNode
    /// Held while a batch is applied or the store replaced.
    private let fence = FollowerFence()
    private struct Progress {
        var status = StoreReplicaStatus()
        /// When the store last held everything the leader had.
        var caughtUpAt = monotonicSeconds()
    }
    private let progress = PlainMutex(Progress())

    init(store: CollectionName, leader: PeerAddress, node: ClusterNode, carrying previous: StoreReplicaStatus?) {
        self.store = store
        self.leader = leader
        self.node = node
        if let previous {
            progress.withLock {
                $0.status.discardedFrames = previous.discardedFrames
                $0.status.bootstraps = previous.bootstraps
                $0.status.appliedFrames = previous.appliedFrames
            }
        }
    }

    func start() {
        spawnThread(name: "lynx-follow") { [self] in run() }
    }

    /// Ends the loop: once this returns nothing more is applied to the store (an apply in progress finishes
    /// first). The thread itself may still be waiting for its last answer; it exits when it comes.
    func stop() { fence.stop() }

    var report: StoreReplicaStatus {
        progress.withLock { p in
            var s = p.status
            s.lagSeconds = s.lagFrames == 0 ? 0 : monotonicSeconds() - p.caughtUpAt
            return s
        }
    }

    /// Under async: after a batch of fewer transactions than this, wait `gatherSeconds` before the next request.
    static let smallBatch = 64
    static let gatherSeconds = 0.02

    /// How long the leader holds a request that finds nothing new.
    static let waitSeconds = 1.0
    /// An answer later than this means the leader is stuck.
    static let requestTimeoutSeconds = 3.0

    private var prefix: String { store == .default ? "" : "/collections/\(store.value)" }

    private func run() {
        let client = HTTPClient(connectTimeoutSeconds: 1)
        while !fence.isStopped {
            guard let engine = node.database.engine(store) else { return }
            do {
                try step(engine, client)
            } catch {
                // A transport error is routine while a leader changes; anything else is said, at most every 10 s.
                let routine = error is HTTPClientError
                let now = monotonicSeconds()
                if routine || now - lastWarning < 10 {
                    node.logger.debug("replication request failed", metadata: ["collection": "\(store)", "error": "\(error)"])
                } else {
                    lastWarning = now
                    node.logger.warning("replication of this store cannot go on", metadata: ["collection": "\(store)", "error": "\(error)"])
                }
                fence.pause(0.2)
            }
        }
    }

    /// When the follower thread last logged a warning (only that thread reads or writes it).
    private var lastWarning = -Double.infinity

    private func step(_ engine: Engine, _ client: HTTPClient) throws {
        let history = node.histories.history(of: engine)
        let last = engine.lastLSN
        let request = LogRequest(node: node.config.nodeName, after: last, durable: engine.durableLSN, lastTerm: history.term(at: last),
                                 term: node.knownTerm, storeID: last == 0 ? nil : engine.storeID, waitSeconds: Self.waitSeconds)
        let response = try client.request("GET", leader.url + prefix + "/replication/log?" + request.query, headers: node.authHeaders,
                                          timeoutSeconds: Self.requestTimeoutSeconds)
        switch LogAnswer(status: response.status, body: response.body) {
        case .batch(let bytes)?:
            try apply(ReplicationBatch.decode(bytes), to: engine, history: history)
        case .snapshotNeeded?:
            node.logger.notice("behind the leader's retained log: starting over from its snapshot", metadata: ["collection": "\(store)"])
            try bootstrap(client)
        case .diverged(var at, let termKnown)?:
            if !termKnown, let own = history.start(of: history.term(at: last)) {
                at = min(at, own)
            }
            let discarded = last >= at ? last - at + 1 : 0
            node.logger.warning("this store's log diverged from the leader's: discarding its frames after the common prefix and starting over from the leader's snapshot",
                                metadata: ["collection": "\(store)", "diverged_at": "\(at)", "discarded_frames": "\(discarded)"])
            progress.withLock { $0.status.discardedFrames += discarded }
            try bootstrap(client)
        default:
            fence.pause(0.2)
        }
    }

    private func apply(_ batch: ReplicationBatch, to engine: Engine, history: TermHistory) throws {
        // A deposed leader's late answer: a newer term is known, its frames are refused.
        guard batch.leaderTerm >= node.knownTerm else { return fence.pause(0.1) }
        node.noteTerm(batch.leaderTerm)
        var last = engine.lastLSN
        let own = engine.storeID
        if batch.history.storeID != own {
            // An empty store (the default one of a new node) becomes a copy of the leader's. A store with frames
            // of another id was checked by the leader (409): this batch answered a request made before a change.
            guard last == 0 else { throw ReplicationError.peer("the leader sent the log of store \(batch.history.storeID), this store is \(own)") }
            try fence.unlessStopped { try engine.adoptStoreID(batch.history.storeID) }
            node.histories.forget(own)
        }
        if let end = batch.transactions.last?.lastLSN {
            // The history first: a crash between the two can only make this store look diverged (and start over).
            try fence.unlessStopped {
                try node.histories.set(batch.history.prefix(through: end), of: engine)
                last = try engine.applyReplicated(batch.transactions)
                // Under sync the next request is the acknowledgement: it must carry this batch durable. Under async
                // the store syncs as it would its own writes (--sync), and the next request goes out at once.
                if case .sync = node.config.mode { try waitDurable(engine, last) }
                progress.withLock { $0.status.appliedFrames += UInt64(batch.transactions.reduce(0) { $0 + $1.ops.count }) }
            }
        }
        let lag = batch.leaderLastLSN > last ? batch.leaderLastLSN - last : 0
        // Under async, a follower that got a small batch lets some milliseconds of writes gather before it asks
        // again: each request costs the leader about what a client's write does, so asking once per write would
        // halve the leader's ingest on shared cores. Under sync the next request is the acknowledgement: no delay.
        if case .async = node.config.mode, batch.transactions.count < Self.smallBatch { fence.pause(Self.gatherSeconds) }
        progress.withLock { p in
            p.status.lagFrames = lag
            if lag == 0 { p.caughtUpAt = monotonicSeconds() }
        }
    }

    private func waitDurable(_ engine: Engine, _ lsn: UInt64) throws {
        let outcome = Completion<Result<UInt64, EngineError>>()
        engine.whenDurable(lsn) { result in outcome.complete(result) }
        if case .failure(let error) = outcome.wait() { throw error }
    }

    /// Replaces this store with a backup the leader makes now, then follows on from its LSN.
    private func bootstrap(_ client: HTTPClient) throws {
        let base = leader.url + prefix + "/snapshots"
        let made = try client.request("POST", base, headers: node.authHeaders + [("Content-Type", "application/json")], body: Array(#"{"rotate":false}"#.utf8),
                                      timeoutSeconds: 120)
        guard made.status == 201, let name = Self.object(made.body)?["name"]?.stringValue else {
            throw ReplicationError.peer("the leader did not make a snapshot (HTTP \(made.status))")
        }
        let archive = joinPath(node.database.baseConfig.dataDir, ".replica-\(store.value).tar")
        defer {
            unlink(archive)
            _ = try? client.request("DELETE", base + "/" + name, headers: node.authHeaders, timeoutSeconds: 10)
        }
        let got = try client.download(base + "/" + name, headers: node.authHeaders, to: archive, timeoutSeconds: 600)
        guard got.status == 200 else { throw ReplicationError.peer("the leader's snapshot could not be downloaded (HTTP \(got.status))") }
        try fence.unlessStopped {
            // The store's term history and acknowledgements are forgotten with it (`Database.onStoreRemoved`).
            let report = try node.database.replaceStore(store, withArchive: archive)
            progress.withLock { $0.status.bootstraps += 1 }
            node.logger.notice("store started over from the leader's snapshot", metadata: [
                "collection": "\(store)", "lsn": "\(report.info.lsn)", "bytes": "\(report.archiveBytes)"])
        }
    }

    /// A JSON object answer of the leader (a problem, a backup), nil when it is not one.
    static func object(_ body: [UInt8]) -> JSONObject? {
        (try? JSONParser.parse(body))?.objectValue
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import LynxCluster
import LynxEngine
import LynxJSON
import LynxSupport
import Synchronization

/// One lynxd in a cluster: holds a lease in etcd, campaigns for the leader key when no node holds it, and either
/// leads (feeds followers, acknowledges writes while its lease is surely alive) or follows the leader's log.
/// The election and the fencing rules are in docs/REPLICATION.md.
///
/// Threads: one control thread (`lynx-cluster`) runs the lease, the election and the role changes; each followed
/// store has a thread of its own (`StoreFollower`), plus one for the leader's catalog; the rest is called from
/// the HTTP threads.
public final class ClusterNode: @unchecked Sendable {
    public let config: ClusterConfig
    let database: Database
    let logger: Logger
    let histories: StoreHistories
    private let etcd: EtcdClient
    private(set) var feed: LeaderFeed!

    private struct Role {
        var role: NodeRole = .candidate
        /// The term this node leads, or the newest term it knows (the leader key's create revision).
        var term: UInt64 = 0
        var knownTerm: UInt64 = 0
        var leader: PeerAddress?
        /// Monotonic time until which this node may acknowledge writes as leader.
        var ackDeadline: Double = 0
        var leaderlessSince: Double = monotonicSeconds()
    }
    private let role = PlainMutex(Role())
    private let followers = PlainMutex<[CollectionName: StoreFollower]>([:])
    private let carried = PlainMutex<[CollectionName: StoreReplicaStatus]>([:])
    private var catalogFollower: CatalogFollower?
    private let stopping = Atomic<Bool>(false)
    private let stopped = Completion<Void>()

    // The control thread's own state.
    private var lease: Int64 = 0
    private var lastKeepAliveSent = 0.0
    private var lastPublished = 0.0
    private lazy var etcdLog = EtcdFailureLog(logger: logger)

    public init(config: ClusterConfig, database: Database, logger: Logger) {
        self.config = config
        self.database = database
        self.logger = logger
        histories = StoreHistories(database: database)
        etcd = EtcdClient(endpoints: config.etcdEndpoints, timeoutSeconds: 1)
        feed = LeaderFeed(histories: histories, currentTerm: { [weak self] in self?.leadingTerm })
        // What this node remembers of a store goes with it (the closures hold these two, not the node).
        database.onStoreRemoved { [histories, feed] id in
            histories.forget(id)
            feed!.forget(id)
        }
        database.writeGate.install { [weak self] in self?.writeRefusal() }
    }

    /// Why this node takes no client writes now: it does not lead, or it leads but its lease may be expiring (it
    /// could not acknowledge the write). nil: it may take them.
    func writeRefusal() -> WriteRefusal? {
        if mayAcknowledge() { return nil }
        let (role, leader) = self.role.withLock { ($0.role, $0.leader) }
        if role == .follower, let leader {
            return WriteRefusal(node: config.nodeName, leaderNode: leader.node, leaderURL: leader.url)
        }
        return WriteRefusal(node: config.nodeName)
    }

    // MARK: - What the HTTP layer asks

    public var currentRole: NodeRole { role.withLock { $0.role } }
    public var term: UInt64 { role.withLock { $0.term } }
    public var knownTerm: UInt64 { role.withLock { $0.knownTerm } }
    public var leader: PeerAddress? { role.withLock { $0.leader } }

    /// The term this node leads now (nil unless leader with a live lease).
    var leadingTerm: UInt64? {
        role.withLock { r in r.role == .leader && monotonicSeconds() < r.ackDeadline ? r.term : nil }
    }

    /// Whether a write may be acknowledged now: this node leads and its lease cannot have expired in etcd.
    public func mayAcknowledge() -> Bool { leadingTerm != nil }

    func noteTerm(_ term: UInt64) {
        role.withLock { $0.knownTerm = max($0.knownTerm, term) }
    }

    var authHeaders: [(String, String)] {
        config.apiKey.map { [("Authorization", "Bearer \($0)")] } ?? []
    }

    /// Serves a follower's log request (`GET /replication/log`). A request from a newer term deposes this node.
    public func serveLog(_ request: LogRequest, engine: Engine, answer: @escaping @Sendable (LogAnswer) -> Void) {
        if request.term > term && currentRole == .leader {
            stepDown("a follower knows a newer term (\(request.term)) than this leader's (\(term))")
        }
        noteTerm(request.term)
        guard leadingTerm != nil else { return answer(.notLeader(leader)) }
        feed.serve(request, engine: engine, answer: answer)
    }

    /// Calls `done(true)` once the write at `lsn` of the store may be acknowledged under `--replication sync`.
    public func whenReplicated(engine: Engine, lsn: UInt64, _ done: @escaping @Sendable (Bool) -> Void) {
        guard case .sync(let replicas) = config.mode else { return done(true) }
        feed.whenReplicated(engine: engine, lsn: lsn, replicas: replicas, timeoutSeconds: config.syncTimeoutSeconds, done)
    }

    /// The leader's catalog (`GET /replication/catalog`); nil unless leading.
    public func catalog() -> [UInt8]? {
        guard let term = leadingTerm else { return nil }
        return Catalog(term: term, database: database).json()
    }

    public func replicaStatus(_ store: CollectionName) -> StoreReplicaStatus? {
        if let f = followers.withLock({ $0[store] }) { return f.report }
        return carried.withLock { $0[store] }
    }

    public func acknowledgements(engine: Engine) -> [(node: String, durable: UInt64, secondsAgo: Double)] {
        feed.acknowledgements(engine: engine)
    }

    // MARK: - Life

    public func start() {
        spawnThread(name: "lynx-cluster") { [self] in
            while !stopping.load(ordering: .relaxed) {
                tick()
                usleep(useconds_t(ClusterConfig.controlPeriodSeconds * 1_000_000))
            }
            stopped.complete(())
        }
    }

    /// Stops following, gives up the lease (so another node need not wait for it to expire), and ends the thread.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        stopped.wait()
        stopFollowing()
        let wasLeader = currentRole == .leader
        role.withLock { $0.role = .candidate; $0.ackDeadline = 0 }
        feed.releaseAll()
        if lease != 0 {
            if wasLeader { logger.notice("stepping down: shutting down") }
            _ = etcdLog.attempt("lease revoke", now: monotonicSeconds()) { try etcd.revoke(lease: lease) }
        }
    }

    // MARK: - The control loop

    private func tick() {
        let now = monotonicSeconds()
        keepLease(now)
        if leadingTerm == nil && currentRole == .leader { stepDown("its lease may have expired in etcd") }
        if now - lastPublished >= ClusterConfig.publishPeriodSeconds { publish(now) }
        observeLeader(now)
    }

    private var ttl: Double { config.ttlSeconds }

    private func keepLease(_ now: Double) {
        if lease == 0 {
            guard let granted = etcdLog.attempt("lease grant", now: now, { try etcd.grantLease(ttlSeconds: config.leaseTTLSeconds) })
            else { return }
            lease = granted
            lastKeepAliveSent = now
            return
        }
        guard now - lastKeepAliveSent >= ttl * ClusterConfig.keepAliveFraction else { return }
        let sent = monotonicSeconds()
        do {
            let remaining = try etcd.keepAlive(lease: lease)
            etcdLog.succeeded("lease keep-alive", now: sent)
            lastKeepAliveSent = sent
            if remaining <= 0 {
                lease = 0
                if currentRole == .leader { stepDown("its lease expired in etcd") }
                return
            }
            // etcd expires the key at the earliest `ttl` after it received this keep-alive, which is after `sent`.
            role.withLock { r in if r.role == .leader { r.ackDeadline = sent + ttl * ClusterConfig.acknowledgeFraction } }
        } catch {
            etcdLog.failed("lease keep-alive", error, now: sent)
        }
    }

    private func publish(_ now: Double) {
        guard lease != 0 else { return }
        lastPublished = now
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("node"); w.string(config.nodeName)
        w.key("url"); w.string(config.advertiseURL)
        w.key("position"); position.write(to: &w)
        w.key("role"); w.string(currentRole.rawValue)
        w.endObject()
        let bytes = w.bytes
        _ = etcdLog.attempt("publish of this node's position", now: now) { try etcd.put(config.nodeKey, value: bytes, lease: lease) }
    }

    private func observeLeader(_ now: Double) {
        guard let kv = etcdLog.attempt("read of the leader key", now: now, { try etcd.get(config.leaderKey) }) else { return }
        guard let kv else { return leaderless(now) }
        let holder = Self.peer(kv.value)
        let holderTerm = UInt64(kv.createRevision)
        if holder?.node == config.nodeName {
            if currentRole == .leader && term == holderTerm { return }
            // Our name on a key we do not lead with: a previous run of this node, or a term we stepped down from.
            // Only this node writes its name there, so removing it is safe; the election follows.
            _ = etcdLog.attempt("removal of a stale leader key", now: now) {
                try etcd.deleteIf(config.leaderKey, createRevision: kv.createRevision)
            }
            return
        }
        guard let holder else { return }
        if currentRole == .leader { stepDown("\(holder.node) holds the leader key (term \(holderTerm))") }
        noteTerm(holderTerm)
        let (changed, previous) = role.withLock { r -> (Bool, PeerAddress?) in
            let changed = r.role != .follower || r.leader != holder || r.term != holderTerm
            let previous = r.leader
            r.role = .follower
            r.leader = holder
            r.term = holderTerm
            return (changed, previous)
        }
        if changed {
            logger.notice("following", metadata: ["leader": "\(holder.node)", "url": "\(holder.url)", "term": "\(holderTerm)",
                                                  "previous": "\(previous?.node ?? "none")"])
            follow(holder)
        }
    }

    private func leaderless(_ now: Double) {
        let since: Double = role.withLock { r in
            if r.role == .follower {
                r.role = .candidate
                r.leader = nil
                r.leaderlessSince = now
            }
            return r.leaderlessSince
        }
        if currentRole == .follower || currentRole == .candidate, followers.withLock({ !$0.isEmpty }) {
            logger.notice("the leader's key is gone: stopping replication until a leader is elected")
            stopFollowing()
        }
        guard lease != 0, currentRole == .candidate else { return }
        let waited = now - since
        guard waited >= ClusterConfig.campaignDelaySeconds else { return }
        // The best live node goes first; a dead one's node key expires with its lease, so the next best is then
        // the best. Past three TTLs any node campaigns (the best one is alive in etcd but not campaigning).
        if waited < ClusterConfig.campaignFallbackTTLs * ttl {
            // Positions settle within one publication period. A node goes first unless another is ahead of it (or
            // exactly as far, with a lower name); nodes neither of which is ahead may both campaign.
            guard let nodes = etcdLog.attempt("read of the nodes' positions", now: now, { try etcd.getPrefix(config.nodesPrefix) })
            else { return }
            let mine = position
            let better = nodes.compactMap { Self.published($0.value) }.contains { other in
                other.node != config.nodeName
                    && (other.position.isAhead(of: mine) || (other.position == mine && other.node < config.nodeName))
            }
            if better { return }
        }
        campaign(now)
    }

    private func campaign(_ now: Double) {
        var w = JSONWriter(capacity: 96)
        w.beginObject()
        w.key("node"); w.string(config.nodeName)
        w.key("url"); w.string(config.advertiseURL)
        w.endObject()
        let sent = monotonicSeconds()
        let bytes = w.bytes
        guard let (created, current) = etcdLog.attempt("campaign", now: now, { try etcd.createIfAbsent(config.leaderKey, value: bytes, lease: lease) }),
              created, let current else { return }
        becomeLeader(term: UInt64(current.createRevision), leaseFrom: sent)
    }

    private func becomeLeader(term: UInt64, leaseFrom sent: Double) {
        stopFollowing()
        // A leader lags no one: the last follower figures would only mislead.
        carried.withLock { c in
            for key in c.keys { c[key]!.lagFrames = 0 }
        }
        do {
            try histories.beginTerm(term)
        } catch {
            logger.error("could not record the new term; giving up the leadership", metadata: ["error": "\(error)"])
            _ = etcdLog.attempt("lease revoke", now: monotonicSeconds()) { try etcd.revoke(lease: lease) }
            lease = 0
            return
        }
        role.withLock { r in
            r.role = .leader
            r.term = term
            r.knownTerm = max(r.knownTerm, term)
            r.leader = PeerAddress(node: config.nodeName, url: config.advertiseURL)
            // The lease was alive when the campaign was sent; keep-alives extend it from there.
            r.ackDeadline = min(sent, lastKeepAliveSent) + ttl * ClusterConfig.acknowledgeFraction
        }
        logger.notice("leading", metadata: ["term": "\(term)", "newest_term_held": "\(position.newestTerm)"])
    }

    func stepDown(_ reason: String) {
        let was: Bool = role.withLock { r in
            guard r.role == .leader else { return false }
            r.role = .candidate
            r.leader = nil
            r.ackDeadline = 0
            r.leaderlessSince = monotonicSeconds()
            return true
        }
        guard was else { return }
        logger.warning("stepping down: \(reason); writes are refused until a leader is known")
        feed.releaseAll()
    }

    // MARK: - Following

    private func follow(_ leader: PeerAddress) {
        stopFollowing()
        let catalog = CatalogFollower(leader: leader, node: self)
        catalogFollower = catalog
        startFollowing(.default, leader)
        catalog.start()
    }

    /// Starts the store's follower unless it has one (the catalog follower calls this for each collection).
    func startFollowing(_ store: CollectionName, _ leader: PeerAddress) {
        let started: StoreFollower? = followers.withLock { f in
            guard f[store] == nil else { return nil }
            let follower = StoreFollower(store: store, leader: leader, node: self, carrying: carried.withLock { $0[store] })
            f[store] = follower
            return follower
        }
        started?.start()
    }

    func stopFollowing(_ store: CollectionName) {
        guard let follower = followers.withLock({ $0.removeValue(forKey: store) }) else { return }
        follower.stop()
        carried.withLock { $0[store] = follower.report }
    }

    private func stopFollowing() {
        catalogFollower?.stop()
        catalogFollower = nil
        for store in followers.withLock({ Array($0.keys) }) { stopFollowing(store) }
    }

    /// How far this node's stores are (the election's measure; docs/REPLICATION.md, "Choosing the leader").
    var position: ElectionPosition {
        var stores: [UInt64: StorePosition] = [:]
        for (_, engine) in database.collections {
            let last = engine.lastLSN
            stores[engine.storeID.rawValue] = StorePosition(term: histories.history(of: engine).term(at: last), lsn: last)
        }
        return ElectionPosition(stores: stores)
    }

    // MARK: - Values in etcd

    static func peer(_ json: [UInt8]) -> PeerAddress? {
        guard let o = (try? JSONParser.parse(json))?.objectValue, let node = o["node"]?.stringValue, let url = o["url"]?.stringValue else {
            return nil
        }
        return PeerAddress(node: node, url: url)
    }

    /// A node's name and position as it publishes them under `nodes/`.
    static func published(_ json: [UInt8]) -> (node: String, position: ElectionPosition)? {
        guard let o = (try? JSONParser.parse(json))?.objectValue, let node = o["node"]?.stringValue,
              let value = o["position"], let position = ElectionPosition(value) else { return nil }
        return (node, position)
    }
}

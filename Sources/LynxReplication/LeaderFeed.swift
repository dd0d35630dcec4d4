import Dispatch
import LynxEngine
import LynxStorage
import LynxSupport

/// The leader's side of log shipping: answers followers' log requests from the stores' retained transactions,
/// holding a request open until something new is in the log or its wait ends, and keeps each follower's
/// acknowledged durable LSN per store for `--replication sync`. Everything it keeps is keyed by the store's id
/// (`Engine.storeID`): a store made anew under an old name starts with nothing, and `forget` drops a store that
/// left the database; `releaseAll` drops everything when this node stops leading.
///
/// Threads: any. A held request costs no thread: one `whenLogHolds` watch per store wakes the held requests of
/// that store, and one sweeping timer answers each at its deadline (within `sweepSeconds`).
final class LeaderFeed: @unchecked Sendable {
    private struct Held {
        var id: UInt64
        var request: LogRequest
        var engine: Engine
        var answer: @Sendable (LogAnswer) -> Void
        var deadline: Double
    }
    private struct SyncWait {
        var lsn: UInt64
        var replicas: Int
        var done: @Sendable (Bool) -> Void
        var deadline: Double
    }
    private struct Ack {
        var durable: UInt64
        var seenAt: Double
    }
    private struct State {
        var nextID: UInt64 = 1
        var held: [StoreID: [Held]] = [:]
        var watching: Set<StoreID> = []
        /// By store, by follower name.
        var acks: [StoreID: [String: Ack]] = [:]
        var syncWaits: [StoreID: [SyncWait]] = [:]
    }
    private let state = PlainMutex(State())
    private let histories: StoreHistories
    private let work = DispatchQueue(label: "lynx.replication.feed", attributes: .concurrent)
    /// The leader's term, or nil when this node does not lead.
    private let currentTerm: @Sendable () -> UInt64?

    /// One timer for every deadline (held requests, sync waits), instead of a dispatch timer each: at hundreds of
    /// requests a second those cost a wake-up of libdispatch's timer thread apiece.
    private let sweeper: DispatchSourceTimer
    static let sweepSeconds = 0.05

    init(histories: StoreHistories, currentTerm: @escaping @Sendable () -> UInt64?) {
        self.histories = histories
        self.currentTerm = currentTerm
        sweeper = DispatchSource.makeTimerSource(queue: work)
        sweeper.schedule(deadline: .now() + Self.sweepSeconds, repeating: Self.sweepSeconds, leeway: .milliseconds(10))
        sweeper.setEventHandler { [weak self] in self?.sweep() }
        sweeper.resume()
    }

    deinit { sweeper.cancel() }

    /// Answers the held requests and fails the sync waits whose deadline has passed.
    private func sweep() {
        let now = monotonicSeconds()
        let (held, waits) = state.withLock { s in
            (Self.takeExpired(&s.held, now, \.deadline), Self.takeExpired(&s.syncWaits, now, \.deadline))
        }
        for h in held {
            guard let term = currentTerm() else { h.answer(.notLeader(nil)); continue }
            h.answer(encode(term: term, history: histories.history(of: h.engine), engine: h.engine, []))
        }
        for w in waits { w.done(false) }
    }

    /// Removes and returns the entries whose deadline is past, from every store's list.
    private static func takeExpired<T>(_ table: inout [StoreID: [T]], _ now: Double, _ deadline: KeyPath<T, Double>) -> [T] {
        var expired: [T] = []
        for key in Array(table.keys) {
            guard let list = table[key], list.contains(where: { $0[keyPath: deadline] <= now }) else { continue }
            expired += list.filter { $0[keyPath: deadline] <= now }
            table[key] = list.filter { $0[keyPath: deadline] > now }
        }
        return expired
    }

    func serve(_ request: LogRequest, engine: Engine, answer: @escaping @Sendable (LogAnswer) -> Void) {
        guard let term = currentTerm(), request.term <= term else { return answer(.notLeader(nil)) }
        var history = histories.history(of: engine)
        if history.entries.isEmpty {
            // A store this leader made during its term (or never recorded): its term starts here.
            do { try histories.beginTerm(term, of: engine) } catch { return answer(.failed("the store's term history could not be written")) }
            history = histories.history(of: engine)
        }
        if request.after > 0 {
            // Frames of another store (one deleted and made anew under this name, or a request that names none)
            // are no prefix of this one, and no acknowledgement of it.
            if request.storeID != history.storeID { return answer(.diverged(at: 1, termKnown: true)) }
            if let d = history.divergence(followerLSN: request.after, followerTerm: request.lastTerm, lastLSN: engine.lastLSN) {
                return answer(.diverged(at: d.at, termKnown: d.termKnown))
            }
        }
        if !request.node.isEmpty { noteAck(node: request.node, engine: engine, durable: min(request.durable, request.after)) }
        switch engine.retainedTransactions(after: request.after, maxBytes: request.maxBytes) {
        case .beforeWindow(let start):
            answer(.snapshotNeeded(startLSN: start))
        case .transactions(let list) where !list.isEmpty:
            guard list[0].firstLSN == request.after + 1 else {
                return answer(.invalid("after=\(request.after) is not the end of a transaction of this store"))
            }
            answer(encode(term: term, history: history, engine: engine, list))
        case .transactions:
            if request.waitSeconds <= 0 { return answer(encode(term: term, history: history, engine: engine, [])) }
            hold(request, engine: engine, answer: answer)
        }
    }

    private func encode(term: UInt64, history: TermHistory, engine: Engine, _ list: [LoggedTransaction]) -> LogAnswer {
        let batch = ReplicationBatch(leaderTerm: term, leaderLastLSN: engine.lastLSN, history: history, transactions: list)
        do {
            return .batch(try batch.encoded())
        } catch {
            return .invalid("the batch could not be encoded: \(error)")
        }
    }

    private func hold(_ request: LogRequest, engine: Engine, answer: @escaping @Sendable (LogAnswer) -> Void) {
        let key = engine.storeID
        let deadline = monotonicSeconds() + min(request.waitSeconds, LogRequest.maxWaitSeconds)
        let watch: Bool = state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            s.held[key, default: []].append(Held(id: id, request: request, engine: engine, answer: answer, deadline: deadline))
            return s.watching.insert(key).inserted
        }
        // At `after + 1`, not at the last LSN now: a frame appended since the read wakes it at once.
        if watch { engine.whenLogHolds(request.after + 1) { [weak self] in self?.wake(key) } }
    }

    /// Something new is in the store's log: the held requests it has frames for are answered; the others stay
    /// held (answered by a later wake or by their deadline). Whoever takes a request out of `held` answers it.
    /// Requests for the same LSN and size (followers that are caught up ask alike) share one read and one encoding.
    private func wake(_ key: StoreID) {
        work.async { [self] in
            let held: [Held] = state.withLock { s in
                s.watching.remove(key)
                return s.held[key] ?? []
            }
            guard let first = held.first, let term = currentTerm() else { return }
            let engine = first.engine
            let history = histories.history(of: engine)
            var answers: [LogPosition: LogAnswer?] = [:]
            for h in held {
                let position = LogPosition(after: h.request.after, maxBytes: h.request.maxBytes)
                let answer: LogAnswer?
                if let shared = answers[position] {
                    answer = shared
                } else {
                    switch engine.retainedTransactions(after: position.after, maxBytes: position.maxBytes) {
                    case .transactions(let list) where list.isEmpty: answer = nil
                    case .transactions(let list): answer = encode(term: term, history: history, engine: engine, list)
                    case .beforeWindow(let start): answer = .snapshotNeeded(startLSN: start)
                    }
                    answers[position] = answer
                }
                guard let answer, let claimed = claim(key, h.id) else { continue }
                claimed.answer(answer)
            }
            let rewatch: UInt64? = state.withLock { s in
                guard let lowest = s.held[key]?.map(\.request.after).min(), s.watching.insert(key).inserted else { return nil }
                return lowest
            }
            if let rewatch { engine.whenLogHolds(rewatch + 1) { [weak self] in self?.wake(key) } }
        }
    }

    /// What a log request asks for, as far as its answer goes.
    private struct LogPosition: Hashable {
        var after: UInt64
        var maxBytes: Int
    }

    private func claim(_ key: StoreID, _ id: UInt64) -> Held? {
        state.withLock { s in
            guard let i = s.held[key]?.firstIndex(where: { $0.id == id }) else { return nil }
            return s.held[key]!.remove(at: i)
        }
    }

    // MARK: - Acknowledgements (`--replication sync`)

    func noteAck(node: String, engine: Engine, durable: UInt64) {
        let key = engine.storeID
        let now = monotonicSeconds()
        let ready: [SyncWait] = state.withLock { s in
            let previous = s.acks[key]?[node]?.durable ?? 0
            s.acks[key, default: [:]][node] = Ack(durable: max(previous, durable), seenAt: now)
            guard let waits = s.syncWaits[key], !waits.isEmpty else { return [] }
            let acks = s.acks[key]
            let isDone = { (w: SyncWait) in Self.followers(acks, holding: w.lsn) >= w.replicas }
            s.syncWaits[key] = waits.filter { !isDone($0) }
            return waits.filter(isDone)
        }
        for w in ready { w.done(true) }
    }

    /// Calls `done(true)` once `replicas` followers have acknowledged `lsn` of the store durable, or `done(false)`
    /// after `timeoutSeconds`.
    func whenReplicated(engine: Engine, lsn: UInt64, replicas: Int, timeoutSeconds: Double, _ done: @escaping @Sendable (Bool) -> Void) {
        let key = engine.storeID
        let deadline = monotonicSeconds() + timeoutSeconds
        let waiting: Bool = state.withLock { s in
            if Self.followers(s.acks[key], holding: lsn) >= replicas { return false }
            s.syncWaits[key, default: []].append(SyncWait(lsn: lsn, replicas: replicas, done: done, deadline: deadline))
            return true
        }
        if !waiting { done(true) }
    }

    /// How many followers acknowledged `lsn` durable.
    private static func followers(_ acks: [String: Ack]?, holding lsn: UInt64) -> Int {
        acks?.values.filter { $0.durable >= lsn }.count ?? 0
    }

    /// Each follower's acknowledged durable LSN of the store and how long ago it last asked.
    func acknowledgements(engine: Engine) -> [(node: String, durable: UInt64, secondsAgo: Double)] {
        let now = monotonicSeconds()
        return state.withLock { s in
            (s.acks[engine.storeID] ?? [:]).map { ($0.key, $0.value.durable, now - $0.value.seenAt) }.sorted { $0.node < $1.node }
        }
    }

    /// Drops what is kept of a store that left the database: its followers' acknowledgements; its held requests
    /// are answered `storeGone` and its sync waits fail.
    func forget(_ id: StoreID) {
        let (held, waits): ([Held], [SyncWait]) = state.withLock { s in
            s.acks[id] = nil
            s.watching.remove(id)
            return (s.held.removeValue(forKey: id) ?? [], s.syncWaits.removeValue(forKey: id) ?? [])
        }
        for h in held { h.answer(.storeGone) }
        for w in waits { w.done(false) }
    }

    /// Answers every held request and fails every sync wait at once, and forgets every acknowledgement (this node
    /// stopped leading: a later term of its own counts afresh).
    func releaseAll() {
        let (held, waits): ([Held], [SyncWait]) = state.withLock { s in
            defer { s.held = [:]; s.syncWaits = [:]; s.watching = []; s.acks = [:] }
            return (s.held.values.flatMap { $0 }, s.syncWaits.values.flatMap { $0 })
        }
        for h in held { h.answer(.notLeader(nil)) }
        for w in waits { w.done(false) }
    }
}

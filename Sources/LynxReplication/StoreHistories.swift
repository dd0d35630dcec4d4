import Logging
import LynxEngine
import LynxStorage
import LynxSupport

/// The term history of every store of the database, cached in memory by store id and kept in each store's `TERMS`
/// file. A write to the file happens before the history is used for anything that depends on it. A store that
/// leaves the database (deleted, or replaced from a snapshot) is forgotten (`forget`, called by `ClusterNode` from
/// `Database.onStoreRemoved`).
final class StoreHistories: @unchecked Sendable {
    private let database: Database
    private let io: FileIO
    private struct Known {
        var history: TermHistory
        /// Whether the store's TERMS file holds `history`.
        var saved: Bool
    }
    private let cache = PlainMutex<[StoreID: Known]>([:])

    init(database: Database, io: FileIO = SystemFileIO()) {
        self.database = database
        self.io = io
    }

    /// The store's history; a store without one gets an empty one (not saved until changed). A TERMS file of
    /// another store id (written before stores had ids of their own) keeps its entries under the store's id.
    func history(of engine: Engine) -> TermHistory {
        let id = engine.storeID
        if let known = cache.withLock({ $0[id] }) { return known.history }
        let loaded = (try? TermHistoryFile.load(storeDirectory: engine.directoryPath, io: io)) ?? nil
        let fresh = Known(history: TermHistory(storeID: id, entries: loaded?.entries ?? []), saved: loaded?.storeID == id)
        return cache.withLock { c in
            if c[id] == nil { c[id] = fresh }
            return c[id]!.history
        }
    }

    /// Replaces the store's history, durably, unless it is the one its file holds already.
    func set(_ history: TermHistory, of engine: Engine) throws {
        let id = engine.storeID
        guard history.storeID == id else {
            throw ReplicationError.peer("a term history of store \(history.storeID) cannot be the history of store \(id)")
        }
        if let known = cache.withLock({ $0[id] }), known.saved, known.history == history { return }
        try TermHistoryFile.save(history, storeDirectory: engine.directoryPath, io: io)
        cache.withLock { $0[id] = Known(history: history, saved: true) }
    }

    /// A leader of `term` starts writing: every store's history gains `(term, lastLSN + 1)`.
    func beginTerm(_ term: UInt64) throws {
        for (_, engine) in database.collections {
            try beginTerm(term, of: engine)
        }
    }

    func beginTerm(_ term: UInt64, of engine: Engine) throws {
        var h = history(of: engine)
        guard h.lastTerm < term else { return }
        h.entries.append(TermStart(term: term, startLSN: engine.lastLSN + 1))
        try set(h, of: engine)
    }

    /// Forgets a store that left the database.
    func forget(_ id: StoreID) {
        _ = cache.withLock { $0.removeValue(forKey: id) }
    }
}

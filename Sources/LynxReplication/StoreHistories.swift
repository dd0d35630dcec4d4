import Logging
import LynxEngine
import LynxStorage
import Synchronization

/// The term history of every store of the database, cached in memory and kept in each store's `TERMS` file.
/// A write to the file happens before the history is used for anything that depends on it.
final class StoreHistories: @unchecked Sendable {
    private let database: Database
    private let io: FileIO
    private struct Known {
        var history: TermHistory
        /// Whether the store's TERMS file holds `history`.
        var saved: Bool
    }
    private let cache = Mutex<[CollectionName: Known]>([:])

    init(database: Database, io: FileIO = SystemFileIO()) {
        self.database = database
        self.io = io
    }

    /// The store's history; a store without one gets an empty one with a new id (not saved until changed).
    func history(of name: CollectionName, engine: Engine) -> TermHistory {
        if let known = cache.withLock({ $0[name] }) { return known.history }
        let loaded = (try? TermHistoryFile.load(storeDirectory: engine.directoryPath, io: io)) ?? nil
        let fresh = Known(history: loaded ?? TermHistory(storeID: UInt64.random(in: 1...UInt64.max)), saved: loaded != nil)
        return cache.withLock { c in
            if c[name] == nil { c[name] = fresh }
            return c[name]!.history
        }
    }

    /// Replaces the store's history, durably, unless it is the one its file holds already.
    func set(_ history: TermHistory, of name: CollectionName, engine: Engine) throws {
        if let known = cache.withLock({ $0[name] }), known.saved, known.history == history { return }
        try TermHistoryFile.save(history, storeDirectory: engine.directoryPath, io: io)
        cache.withLock { $0[name] = Known(history: history, saved: true) }
    }

    /// A leader of `term` starts writing: every store's history gains `(term, lastLSN + 1)`.
    func beginTerm(_ term: UInt64) throws {
        for (name, engine) in database.collections {
            try beginTerm(term, of: name, engine: engine)
        }
    }

    func beginTerm(_ term: UInt64, of name: CollectionName, engine: Engine) throws {
        var h = history(of: name, engine: engine)
        guard h.lastTerm < term else { return }
        h.entries.append(TermStart(term: term, startLSN: engine.lastLSN + 1))
        try set(h, of: name, engine: engine)
    }

    /// Forgets a store (deleted, or replaced from a snapshot: its file went with it or is rewritten).
    func forget(_ name: CollectionName) {
        _ = cache.withLock { $0.removeValue(forKey: name) }
    }
}

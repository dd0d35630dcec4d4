import LynxStorage

/// The engine's side of log shipping: what a leader hands out (`retainedTransactions`) and how a follower takes it
/// in (`applyReplicated`). Which node leads, and the wire, belong to LynxReplication.
extension Engine {
    /// The LSN up to which the log is fdatasync'd.
    public var durableLSN: UInt64 { log.durableLSN }

    /// The first LSN a follower can still be fed from memory; older ones need a snapshot.
    public var retainedStartLSN: UInt64 { retained?.startLSN ?? (lastLSN + 1) }

    /// Committed transactions after `after` (in the log, not necessarily fdatasync'd yet), oldest first, about
    /// `maxBytes` of them; `.beforeWindow` when `after` is older than what is retained (or nothing is:
    /// `retainedLogBytes == 0`).
    public func retainedTransactions(after: UInt64, maxBytes: Int) -> RetainedRead {
        guard let retained else { return .beforeWindow(startLSN: lastLSN + 1) }
        return retained.read(after: after, maxBytes: maxBytes)
    }

    /// Calls `callback` once the log holds `lsn` (at once if it does; else from the writer that appends it, which
    /// is why `callback` must only hand work on). Never, without a retained log.
    public func whenLogHolds(_ lsn: UInt64, _ callback: @escaping @Sendable () -> Void) {
        retained?.whenPast(lsn, callback)
    }

    /// Appends a leader's transactions to this store's log with the leader's LSNs and applies them, as recovery
    /// applies the log: all under one hold of the writer lock, each transaction visible to readers whole. The first
    /// must start right after this log's last LSN (`.replicaOutOfOrder` otherwise, nothing written). Returns the
    /// last LSN written; durability follows through `whenDurable` as for any write.
    public func applyReplicated(_ transactions: [LoggedTransaction]) throws -> UInt64 {
        try checkReady()
        guard let first = transactions.first else { return lastLSN }
        for t in transactions {
            for op in t.ops {
                if case .upsert(let id, let vector, _) = op, vector.count != dimension {
                    throw EngineError.internalError("replicated record \(id) has \(vector.count) dimensions, the store \(dimension)")
                }
            }
        }
        let write = { [self] () throws -> UInt64 in
            guard log.writesAhead else { throw EngineError.internalError("a replica needs its write-ahead log") }
            let next = log.lastLSN + 1
            guard first.firstLSN == next else { throw EngineError.replicaOutOfOrder(expected: next, received: first.firstLSN) }
            var last = next - 1
            for t in transactions {
                guard t.firstLSN == last + 1 else { throw EngineError.replicaOutOfOrder(expected: last + 1, received: t.firstLSN) }
                last = try appendToLog(t.ops)
                try stateLock.write { try state.applyReplayed(t.ops, dimension: dimension) }
            }
            return last
        }
        let staged = transactions.reduce(0) { $0 + $1.ops.count }
        let lsn = try admit(.store, staging: staged, write)
        var upserts: UInt64 = 0, deletes: UInt64 = 0
        for t in transactions {
            for op in t.ops {
                if case .upsert = op { upserts += 1 } else if case .delete = op { deletes += 1 }
            }
        }
        metrics.upserts.add(upserts)
        metrics.deletes.add(deletes)
        return lsn
    }
}

extension Engine {
    /// The store's folder, for files that other layers keep beside its own (the replication term history).
    public var directoryPath: String { directory.path }
}

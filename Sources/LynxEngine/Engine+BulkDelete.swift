import LynxStorage

/// What a bulk delete did.
public struct BulkDeleteReport: Sendable {
    /// Records removed (ids that did not exist are not counted).
    public var deleted: Int
    /// The LSN of the transaction's commit frame; when nothing was deleted, the newest LSN (nothing is logged).
    public var lsn: UInt64
}

extension Engine {
    /// Deletes those of `ids` that exist, as one logged transaction: after a crash either all of them are gone or
    /// none, and readers see all of them go at once. Absent ids are skipped, not errors.
    public func delete(ids: [UInt64]) throws -> BulkDeleteReport {
        try deleteAll {
            var seen = Set<UInt64>(minimumCapacity: ids.count)
            return ids.filter { state.contains($0) && seen.insert($0).inserted }
        }
    }

    /// Deletes every live record whose metadata passes `filter`, however many, as one logged transaction (all or
    /// nothing, as `delete(ids:)`). The matches are chosen under the writer lock, so no write slips between the
    /// choice and the delete. The log takes one 40-byte frame per record; the transaction has no other bound.
    public func delete(matching filter: Filter) throws -> BulkDeleteReport {
        try deleteAll { matchingIDs(filter) }
    }

    /// Deletes the ids `select` returns (called under the writer lock and the state's read lock; ids distinct
    /// and live) in one transaction.
    private func deleteAll(_ select: () -> [UInt64]) throws -> BulkDeleteReport {
        try checkWritable()
        var deleted = 0
        func prepare() -> (plan: [UInt64], count: Int) {
            let victims = stateLock.read { select() }
            return (victims, victims.count)
        }
        func write(_ victims: [UInt64]) throws -> UInt64 {
            guard !victims.isEmpty else { return log.lastLSN }
            let lsn = try appendToLog(victims.map { WALOperation.delete(id: $0) })
            stateLock.write { for id in victims { state.remove(id) } }
            deleted = victims.count
            return lsn
        }
        let lsn = try admit(.client, preparing: prepare, write)
        metrics.deletes.add(UInt64(deleted))
        return BulkDeleteReport(deleted: deleted, lsn: lsn)
    }
}

/// A client's write to a store, as one value: what `Engine.write` applies.
public enum StoreWrite: Sendable {
    /// One record or a batch, all or nothing.
    case upsert([VectorRecord])
    /// One record; `.notFound` when it is absent.
    case delete(id: UInt64)
    /// Those of the ids that exist, in one transaction.
    case deleteIDs([UInt64])
    /// Every record whose metadata passes the filter, in one transaction.
    case deleteMatching(Filter)
    case createMetadataIndex(FieldPath, MetadataIndexType)
    /// `.metadataIndexNotFound` when the field has no index.
    case dropMetadataIndex(FieldPath)
}

/// What a write did.
public struct StoreWriteResult: Sendable, Equatable {
    /// The LSN a client waits for: the write's commit frame, or the newest LSN when nothing was logged.
    public var lsn: UInt64
    /// Records written or deleted (upsert, deletes); 1 for a metadata index created or dropped; 0 when nothing
    /// changed (an index of that type existed, no record matched).
    public var count: Int
    /// True when there is nothing to wait for: the write logged nothing and names no LSN of its own
    /// (`createMetadataIndex` of an index that existed). A delete that matched nothing is not such a write: it
    /// waits for the newest LSN, as a flush would.
    public var acknowledgedAtOnce: Bool

    public init(lsn: UInt64, count: Int, acknowledgedAtOnce: Bool) {
        self.lsn = lsn
        self.count = count
        self.acknowledgedAtOnce = acknowledgedAtOnce
    }
}

extension Engine {
    /// Applies `write` (see each case); throws as the call it stands for.
    public func write(_ write: StoreWrite) throws -> StoreWriteResult {
        switch write {
        case .upsert(let records):
            return StoreWriteResult(lsn: try upsert(records), count: records.count, acknowledgedAtOnce: false)
        case .delete(let id):
            return StoreWriteResult(lsn: try delete(id), count: 1, acknowledgedAtOnce: false)
        case .deleteIDs(let ids):
            let report = try delete(ids: ids)
            return StoreWriteResult(lsn: report.lsn, count: report.deleted, acknowledgedAtOnce: false)
        case .deleteMatching(let filter):
            let report = try delete(matching: filter)
            return StoreWriteResult(lsn: report.lsn, count: report.deleted, acknowledgedAtOnce: false)
        case .createMetadataIndex(let path, let type):
            switch try createMetadataIndex(path, type: type) {
            case .created(let lsn): return StoreWriteResult(lsn: lsn, count: 1, acknowledgedAtOnce: false)
            case .existed: return StoreWriteResult(lsn: lastLSN, count: 0, acknowledgedAtOnce: true)
            }
        case .dropMetadataIndex(let path):
            return StoreWriteResult(lsn: try dropMetadataIndex(path), count: 1, acknowledgedAtOnce: false)
        }
    }
}

/// Which vector of a call a validation error is about: the vector of record i of an upsert, or query i of a search
/// (0 for a single search). The edge names it in its own terms (HTTP: a JSON path).
public enum VectorField: Equatable, Sendable {
    case record(Int)
    case query(Int)
}

/// Why the engine refused or failed an operation. The HTTP layer maps each case to one problem type.
public enum EngineError: Error, Equatable, Sendable {
    case dimensionMismatch(field: VectorField, expected: Int, actual: Int)
    case invalidVector(field: VectorField, reason: String)
    case notFound(id: UInt64)
    /// The log could not take the write (disk full, short write): nothing was applied; retry later.
    case noSpace(String)
    /// The log failed in another way (EIO on write): nothing was applied.
    case ioFailure(String)
    /// Start-up replay is still running.
    case recovering(progress: Double)
    /// The store cannot take the write now (the pending tail is full and the builder did not make room in time):
    /// nothing was written; retry after `retryAfterSeconds`.
    case overloaded(String, retryAfterSeconds: Int)
    /// A failed fsync (or another unrecoverable fault) stopped the store from accepting writes.
    case failed(String)
    /// The field is indexed already, with another type.
    case metadataIndexConflict(path: FieldPath, existing: MetadataIndexType)
    case metadataIndexNotFound(path: FieldPath)
    case invalidFieldPath(path: FieldPath, reason: String)
    case internalError(String)
    /// Opening a data directory: another process holds its lock.
    case directoryInUse(path: String, pid: Int32)
    /// Opening a data directory: it was created with `existing` for `setting`, and `requested` was asked for.
    case settingConflict(path: String, setting: String, existing: String, requested: String)
    /// Opening a data directory: `lynxd restore` was interrupted there (`StoreRestore.stagingName` is present).
    case unfinishedRestore(path: String)
    /// This node takes no client writes now (`WriteGate`): another node leads. Nothing was written.
    case writeRefused(WriteRefusal)
    /// A replica was handed transactions that do not continue its log (the first LSN is not `expected`).
    case replicaOutOfOrder(expected: UInt64, received: UInt64)
    /// A read's answer would pass its `ReadBudget` (`limit` bytes); nothing was returned.
    case readTooLarge(limit: Int)
}

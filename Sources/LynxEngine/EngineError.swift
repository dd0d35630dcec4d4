/// Why the engine refused or failed an operation. The HTTP layer maps each case to one problem type.
public enum EngineError: Error, Equatable, Sendable {
    case dimensionMismatch(field: String, expected: Int, actual: Int)
    case invalidVector(field: String, reason: String)
    case notFound(id: UInt64)
    case outOfRange(field: String, reason: String)
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
    case internalError(String)
}

import LynxEngine

extension EngineError {
    /// The one place where engine errors become HTTP problems. `batch`: the request body was a batch
    /// (`{"vectors": [...]}` or `{"queries": [...]}`), so a vector is named by its index.
    package func problem(batch: Bool = false) -> Problem {
        switch self {
        case .dimensionMismatch(let field, let expected, let actual):
            return .dimensionMismatch(field: field.jsonPath(batch: batch), expected: expected, actual: actual)
        case .invalidVector(let field, let reason):
            let path = field.jsonPath(batch: batch)
            return .outOfRange("\(path): \(reason)", field: path)
        case .notFound(let id):
            return .notFound("no vector with id \(id)")
        case .noSpace(let detail):
            return .insufficientStorage(detail + "; nothing was applied, retry once space is freed")
        case .ioFailure(let detail):
            return .unavailable(detail + "; nothing was applied")
        case .recovering(let progress):
            return .unavailable("recovering from the log (\(Int(progress * 100))% replayed); retry shortly", retryAfter: 1)
        case .overloaded(let detail, let retryAfter):
            return .unavailable(detail + "; retry later", retryAfter: retryAfter)
        case .failed(let reason):
            return .unavailable(reason)
        case .writeRefused(let refusal):
            return refusal.problem
        case .metadataIndexConflict(let path, let existing):
            return .conflict("the field \(path) already has an index of type \(existing.rawValue); drop it first to index it as another type")
        case .metadataIndexNotFound(let path):
            return .notFound("the field \(path) has no metadata index")
        case .invalidFieldPath(let path, let reason):
            return .invalidRequest("cannot index the field \"\(path)\": \(reason)")
        case .internalError(let detail):
            return .internalError(detail)
        case .readTooLarge(let limit):
            return .responseTooLarge(limit: limit)
        case .replicaOutOfOrder(let expected, let received):
            return .internalError("replicated transactions out of order (expected LSN \(expected), received \(received))")
        case .directoryInUse, .settingConflict, .unfinishedRestore:
            // Only opening a data directory throws these, and lynxd reports them at start-up; the server paths
            // they carry never reach a client.
            return .internalError("a collection's files could not be opened")
        }
    }
}

extension VectorField {
    /// The field's JSON path in the request body.
    func jsonPath(batch: Bool) -> String {
        switch self {
        case .record(let i): return batch ? "vectors[\(i)].vector" : "vector"
        case .query(let i): return batch ? "queries[\(i)]" : "vector"
        }
    }
}

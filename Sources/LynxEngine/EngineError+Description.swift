extension EngineError: CustomStringConvertible {
    /// The error in words, as logs and lynxd's fatal lines show it (the HTTP edge maps each case to a problem of
    /// its own).
    public var description: String {
        switch self {
        case .dimensionMismatch(let field, let expected, let actual):
            return "\(field): a vector of dimension \(actual), the store's is \(expected)"
        case .invalidVector(let field, let reason): return "\(field): \(reason)"
        case .notFound(let id): return "no record with id \(id)"
        case .noSpace(let text), .ioFailure(let text), .failed(let text), .internalError(let text): return text
        case .recovering(let progress): return "the store is recovering (\(Int(progress * 100))% replayed)"
        case .overloaded(let text, let retryAfterSeconds): return "\(text) (retry after \(retryAfterSeconds) s)"
        case .metadataIndexConflict(let path, let existing): return "\(path) is indexed already, as \(existing.rawValue)"
        case .metadataIndexNotFound(let path): return "no metadata index on \(path)"
        case .invalidFieldPath(let path, let reason): return "field path \(path): \(reason)"
        case .directoryInUse(let path, let pid): return "another lynxd (pid \(pid)) uses \(path)"
        case .settingConflict(let path, let setting, let existing, let requested):
            return "\(path) was created with \(setting)=\(existing), not \(requested)"
        case .unfinishedRestore(let path): return "\(path) holds an unfinished restore"
        case .writeRefused(let refusal):
            return "node \(refusal.node) takes no writes; the leader is \(refusal.leaderNode ?? "not known")"
        case .replicaOutOfOrder(let expected, let received):
            return "replicated transactions start at LSN \(received), the log continues at \(expected)"
        case .readTooLarge(let limit): return "the answer would pass the read limit of \(limit) bytes"
        }
    }
}

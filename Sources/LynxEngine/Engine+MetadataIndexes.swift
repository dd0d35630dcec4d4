import LynxStorage

/// What `createMetadataIndex` did.
public enum MetadataIndexCreation: Sendable, Equatable {
    /// Built and logged at this LSN.
    case created(lsn: UInt64)
    /// An index of that type was already there: nothing changed.
    case existed
}

extension Engine {
    /// Longest field path an index accepts, in UTF-8 bytes of its components.
    public static let maxIndexedPathBytes = 1024

    /// Builds an index over the metadata field at `path` from the records held, and logs it (a write: ordered with
    /// the others, durable as they are, see `whenDurable`). Searches run during the build; writes wait for it.
    /// Throws `.metadataIndexConflict` when the field is indexed with another type, `.invalidFieldPath` for an
    /// empty path or component or one past `maxIndexedPathBytes`.
    public func createMetadataIndex(_ path: FieldPath, type: MetadataIndexType) throws -> MetadataIndexCreation {
        try checkWritable()
        try Self.validateIndexed(path)
        return try admit(.client, staging: 0) {
            // Only writers change the state, and we hold the writer lock: what we read stays true until we apply.
            let (existing, metadata) = stateLock.read { (state.metadataIndexes[path]?.type, state.metadata) }
            if let existing {
                guard existing == type else { throw EngineError.metadataIndexConflict(path: path, existing: existing) }
                return .existed
            }
            let lsn = try appendToLog([.createMetadataIndex(path: path.components, type: type.code)])
            let index = FieldIndex(path: path, type: type, metadata: metadata)
            stateLock.write { state.metadataIndexes.add(index) }
            return .created(lsn: lsn)
        }
    }

    /// Drops the index over `path` and logs it. Throws `.metadataIndexNotFound` when there is none.
    public func dropMetadataIndex(_ path: FieldPath) throws -> UInt64 {
        try checkWritable()
        return try admit(.client, staging: 0) {
            guard stateLock.read({ state.metadataIndexes[path] != nil }) else {
                throw EngineError.metadataIndexNotFound(path: path)
            }
            let lsn = try appendToLog([.dropMetadataIndex(path: path.components)])
            stateLock.write { _ = state.metadataIndexes.remove(path) }
            return lsn
        }
    }

    /// The metadata indexes, in path order.
    public var metadataIndexes: [MetadataIndexInfo] {
        stateLock.read {
            state.metadataIndexes.all.map {
                MetadataIndexInfo(path: $0.path, type: $0.type, indexedRecords: $0.indexedRecords,
                                  distinctValues: $0.distinctValues, otherRecords: $0.others.count)
            }
        }
    }

    static func validateIndexed(_ path: FieldPath) throws {
        if path.components.isEmpty || path.components.contains(where: \.isEmpty) {
            throw EngineError.invalidFieldPath(path: path, reason: "a field path needs one or more non-empty member names")
        }
        if path.components.reduce(0, { $0 + $1.utf8.count }) > maxIndexedPathBytes {
            throw EngineError.invalidFieldPath(path: path, reason: "a field path is at most \(maxIndexedPathBytes) bytes long")
        }
    }
}

import LynxStorage

extension StoreState {
    /// Applies one transaction read back from the log (recovery, and the inspection's dry run of it). The caller
    /// of an engine's state holds its write lock.
    mutating func applyReplayed(_ ops: [WALOperation], dimension: Int) throws {
        for op in ops {
            switch op {
            case .upsert(let id, let vector, let metadata):
                guard vector.count == dimension else {
                    throw EngineError.internalError("log frame for id \(id) has \(vector.count) dimensions, the store \(dimension)")
                }
                upsert(VectorRecord(id: id, vector: vector, metadata: metadata.isEmpty ? nil : try Metadata(json: metadata)))
            case .delete(let id):
                remove(id)
            case .createMetadataIndex(let path, let code):
                guard let type = MetadataIndexType(code: code) else {
                    throw EngineError.internalError("log frame creates a metadata index of unknown type \(code)")
                }
                createMetadataIndex(FieldPath(path), type: type)
            case .dropMetadataIndex(let path):
                metadataIndexes.remove(FieldPath(path))
            }
        }
    }
}

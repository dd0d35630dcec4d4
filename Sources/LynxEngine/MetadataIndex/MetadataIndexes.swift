/// The store's metadata indexes, by field path. Kept in step with the records' metadata by `StoreState`.
struct MetadataIndexes {
    private(set) var byPath: [FieldPath: FieldIndex] = [:]

    var isEmpty: Bool { byPath.isEmpty }

    subscript(path: FieldPath) -> FieldIndex? { byPath[path] }

    /// The indexes in path order.
    var all: [FieldIndex] { byPath.values.sorted { $0.path.description < $1.path.description } }

    /// The heap the indexes hold, estimated.
    var memoryBytes: Int { byPath.values.reduce(0) { $0 + $1.memoryBytes } }

    mutating func add(_ index: FieldIndex) { byPath[index.path] = index }

    @discardableResult
    mutating func remove(_ path: FieldPath) -> FieldIndex? { byPath.removeValue(forKey: path) }

    /// Refiles `id` after its metadata changed (`metadata` nil: the record is gone or has none).
    mutating func update(_ id: UInt64, to metadata: Metadata?) {
        guard !byPath.isEmpty else { return }
        let document = metadata?.document
        for path in byPath.keys {
            byPath[path]!.remove(id)
            byPath[path]!.insert(id, document)
        }
    }
}

extension FieldIndex {
    /// An index over every record of `metadata` that has a value at `path`.
    init(path: FieldPath, type: MetadataIndexType, metadata: [UInt64: Metadata]) {
        self.init(path: path, type: type, documents: metadata.lazy.map { ($0.key, $0.value.document) })
    }
}

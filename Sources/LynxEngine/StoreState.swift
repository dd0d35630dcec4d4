import LynxIndex

/// Everything the store holds in memory. A value: copying it is O(1) (its big parts are copy-on-write),
/// which is how a checkpoint takes a consistent picture under the writer lock and serialises it elsewhere.
struct StoreState {
    var index: any VectorIndex
    var metadata: [UInt64: Metadata] = [:]
    /// Bytes of metadata JSON held (for memory reporting).
    var metadataBytes: Int = 0

    init(index: any VectorIndex) {
        self.index = index
    }

    mutating func upsert(_ record: VectorRecord) {
        record.vector.withUnsafeBufferPointer { index.upsert(id: record.id, vector: $0) }
        setMetadata(record.metadata, for: record.id)
    }

    /// Read-only first half of `upsert` (may run concurrently with searches). nil: `applyUpsert` does it all.
    func planUpsert(_ record: VectorRecord) -> UpsertPlan? {
        record.vector.withUnsafeBufferPointer { index.planUpsert(id: record.id, vector: $0) }
    }

    /// Second half: same result as `upsert(record)` when nothing changed the state since `planUpsert(record)`.
    mutating func applyUpsert(_ plan: UpsertPlan?, _ record: VectorRecord) {
        record.vector.withUnsafeBufferPointer { vector in
            if let plan {
                index.applyUpsert(plan, id: record.id, vector: vector)
            } else {
                index.upsert(id: record.id, vector: vector)
            }
        }
        setMetadata(record.metadata, for: record.id)
    }

    @discardableResult
    mutating func remove(_ id: UInt64) -> Bool {
        setMetadata(nil, for: id)
        return index.remove(id)
    }

    mutating func setMetadata(_ metadata: Metadata?, for id: UInt64) {
        if let old = self.metadata[id] { metadataBytes -= old.json.count }
        if let metadata {
            self.metadata[id] = metadata
            metadataBytes += metadata.json.count
        } else {
            self.metadata.removeValue(forKey: id)
        }
    }
}

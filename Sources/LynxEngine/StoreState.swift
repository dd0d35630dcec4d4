import LynxIndex

/// Everything the store holds in memory. A value: copying it is O(1) (its big parts are copy-on-write),
/// which is how a checkpoint takes a consistent picture under the writer lock and serialises it elsewhere.
///
/// With a `tail` (an index linked in the background, HNSW), writes go to the tail and the builder later moves
/// them into `index`; what a reader sees is the tail's newest operation for an id when it has one, else the
/// index's. Without one (Flat, IVF, or `--index-threads 0`), writes go straight into `index`.
struct StoreState {
    var index: any VectorIndex
    var tail: PendingTail?
    var metadata: [UInt64: Metadata] = [:]
    /// Bytes of metadata held, JSON text and typed documents (for memory reporting).
    var metadataBytes: Int = 0
    /// The ids of the live records as readers see them (index and tail together), ascending.
    private(set) var ids: SortedIDs

    var count: Int { ids.count }
    /// Kept in step with `metadata` by `setMetadata`.
    var metadataIndexes = MetadataIndexes()

    init(index: any VectorIndex, stagesWrites: Bool) {
        self.index = index
        // With a tail the builder is the index's only mutator, and it runs the housekeeping on a copy.
        if stagesWrites { self.index.housekeepsAutomatically = false }
        tail = stagesWrites ? PendingTail(dimension: index.dimension, metric: index.metric) : nil
        ids = SortedIDs()
        recount()
    }

    // MARK: - What readers see

    func contains(_ id: UInt64) -> Bool {
        tail?.contains(id) ?? index.contains(id)
    }

    func vector(_ id: UInt64) -> [Float]? {
        if let tail, let exists = tail.contains(id) { return exists ? tail.vectors.vector(id) : nil }
        return index.vector(id)
    }

    /// Records waiting to be linked into the index.
    var pendingCount: Int { tail?.count ?? 0 }

    /// The k nearest visible records: the index's candidates (minus every id the tail overrides) merged with an
    /// exact scan of the tail's vectors, so a pending record is found exactly and no superseded version is returned.
    func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams, filter: ((UInt64) -> Bool)?) -> [SearchHit] {
        guard let tail, !tail.isEmpty else { return index.search(query, k: k, params: params, filter: filter) }
        let fromIndex = index.search(query, k: k, params: params, filter: Self.hiding(tail.latest, filter))
        let fromTail = tail.vectors.search(query, k: k, params: params, filter: filter)
        return Self.merge(fromIndex, fromTail, k: k)
    }

    /// `count` searches at once (`queries` row-major); each list is what `search` returns for that query.
    func search(batch queries: UnsafeBufferPointer<Float>, count: Int, k: Int, params: SearchParams,
                filter: ((UInt64) -> Bool)?) -> [[SearchHit]] {
        guard let tail, !tail.isEmpty else {
            return index.search(batch: queries, count: count, k: k, params: params, filter: filter)
        }
        let fromIndex = index.search(batch: queries, count: count, k: k, params: params, filter: Self.hiding(tail.latest, filter))
        let fromTail = tail.vectors.search(batch: queries, count: count, k: k, params: params, filter: filter)
        return zip(fromIndex, fromTail).map { Self.merge($0, $1, k: k) }
    }

    private static func hiding(_ overridden: [UInt64: UInt64], _ filter: ((UInt64) -> Bool)?) -> (UInt64) -> Bool {
        if let filter { return { overridden[$0] == nil && filter($0) } }
        return { overridden[$0] == nil }
    }

    /// Two lists ordered by (distance, id) with disjoint ids → the first k of both, in the same order.
    static func merge(_ a: [SearchHit], _ b: [SearchHit], k: Int) -> [SearchHit] {
        if b.isEmpty { return a }
        if a.isEmpty { return b }
        var out: [SearchHit] = []
        out.reserveCapacity(min(k, a.count + b.count))
        var i = 0, j = 0
        while out.count < k && (i < a.count || j < b.count) {
            let takeA: Bool
            if i == a.count { takeA = false } else if j == b.count { takeA = true } else {
                takeA = (a[i].distance, a[i].id) < (b[j].distance, b[j].id)
            }
            if takeA { out.append(a[i]); i += 1 } else { out.append(b[j]); j += 1 }
        }
        return out
    }

    // MARK: - Writes

    mutating func upsert(_ record: VectorRecord) {
        if !contains(record.id) { ids.insert(record.id) }
        record.vector.withUnsafeBufferPointer { vector in
            if tail != nil {
                tail!.stageUpsert(id: record.id, vector: vector)
            } else {
                index.upsert(id: record.id, vector: vector)
            }
        }
        setMetadata(record.metadata, for: record.id)
    }

    /// Read-only first half of `upsert` into the index (may run concurrently with searches). nil: `applyUpsert` does it all.
    func planUpsert(_ record: VectorRecord) -> UpsertPlan? {
        record.vector.withUnsafeBufferPointer { index.planUpsert(id: record.id, vector: $0) }
    }

    /// Second half: same result as `upsert(record)` when nothing changed the state since `planUpsert(record)`.
    /// Only for a state without a tail.
    mutating func applyUpsert(_ plan: UpsertPlan?, _ record: VectorRecord) {
        precondition(tail == nil, "a state with a tail stages its upserts")
        if !index.contains(record.id) { ids.insert(record.id) }
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
        guard contains(id) else { return false }
        ids.remove(id)
        setMetadata(nil, for: id)
        if tail != nil {
            tail!.stageDelete(id)
        } else {
            index.remove(id)
        }
        return true
    }

    mutating func setMetadata(_ metadata: Metadata?, for id: UInt64) {
        if let old = self.metadata[id] { metadataBytes -= old.memoryBytes }
        if let metadata {
            self.metadata[id] = metadata
            metadataBytes += metadata.memoryBytes
        } else {
            self.metadata.removeValue(forKey: id)
        }
        metadataIndexes.update(id, to: metadata)
    }

    /// Builds an index over the field from the records' metadata (replacing one at the same path).
    mutating func createMetadataIndex(_ path: FieldPath, type: MetadataIndexType) {
        metadataIndexes.add(FieldIndex(path: path, type: type, metadata: metadata))
    }

    // MARK: - Linking (the builder)

    /// Applies the builder's work to the index and settles it in the tail. What readers see does not change:
    /// the index now holds what the tail held. `link` mutates the index (it runs under the state's write lock).
    mutating func settle(_ ops: [PendingTail.Operation], queueEnd: Int, link: (inout any VectorIndex) -> Void) {
        link(&index)
        for op in ops { tail!.settle(op) }
        tail!.advance(to: queueEnd)
    }

    /// Recomputes `ids` after the parts were assembled (snapshot load).
    mutating func recount() {
        var visible: [UInt64] = []
        visible.reserveCapacity(index.count + (tail?.count ?? 0))
        index.forEachID { id in if tail?.contains(id) == nil { visible.append(id) } }
        if let tail {
            for id in tail.latest.keys where tail.contains(id) == true { visible.append(id) }
        }
        ids = SortedIDs(visible)
    }
}

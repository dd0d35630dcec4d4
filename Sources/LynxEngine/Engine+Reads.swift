/// One page of `Engine.records(after:limit:includeVector:includeMetadata:)`.
public struct RecordPage: Sendable {
    /// Ascending by id.
    public var records: [RecordView]
    /// Pass as `after` for the next page; nil when this page reaches the last record.
    public var nextAfter: UInt64?
}

/// A record as a read returns it: its vector and metadata only when asked for (and, for metadata, when it has some).
public struct RecordView: Sendable {
    public var id: UInt64
    public var vector: [Float]?
    public var metadata: Metadata?
}

/// The answer of `Engine.records(ids:)`.
public struct RecordLookup: Sendable {
    /// The ids that exist, in the order asked.
    public var found: [VectorRecord]
    /// The ids that do not, in the order asked.
    public var missing: [UInt64]
}

extension Engine {
    /// Live records whose metadata passes `filter` (every live record when nil). Reads one consistent state.
    public func count(matching filter: Filter?) throws -> Int {
        try checkReadable()
        return stateLock.read {
            guard let filter else { return state.count }
            return matchingIDs(filter).count
        }
    }

    /// Up to `limit` records with ids above `after` (from the first when nil) whose metadata passes `filter` (every
    /// record when nil), ascending by id, all read from one consistent state. Paging with `nextAfter` visits every
    /// such record that exists throughout, once; records written meanwhile appear when their id is above the
    /// cursor. Costs O(log N + limit) without a filter (see `SortedIDs`); with one, the ids are walked from the
    /// cursor until the page is full, so a rare match costs up to a walk of the store.
    /// The vectors and metadata copied are counted against `budget`. Precondition: `limit > 0`.
    public func records(after: UInt64?, limit: Int, matching filter: Filter? = nil,
                        includeVector: Bool, includeMetadata: Bool, budget: ReadBudget = .unlimited) throws -> RecordPage {
        precondition(limit > 0, "a page holds at least one record")
        try checkReadable()
        var budget = budget
        return try stateLock.read {
            let keep = filter.map { filter in { (id: UInt64) in filter.matches(self.state.metadata[id]?.document) } }
            var ids = state.ids.ids(after: after, limit: limit + 1, keep: keep)
            let hasMore = ids.count > limit
            if hasMore { ids.removeLast() }
            var records: [RecordView] = []
            records.reserveCapacity(ids.count)
            for id in ids {
                let record = RecordView(id: id, vector: includeVector ? state.vector(id) : nil,
                                        metadata: includeMetadata ? state.metadata[id] : nil)
                try budget.take(vector: record.vector, metadata: record.metadata)
                records.append(record)
            }
            return RecordPage(records: records, nextAfter: hasMore ? ids.last : nil)
        }
    }

    /// The records with these ids, read from one consistent state; ids that do not exist are listed, not errors.
    /// The vectors and metadata copied are counted against `budget`.
    public func records(ids: [UInt64], budget: ReadBudget = .unlimited) throws -> RecordLookup {
        try checkReadable()
        var budget = budget
        return try stateLock.read {
            var lookup = RecordLookup(found: [], missing: [])
            lookup.found.reserveCapacity(ids.count)
            for id in ids {
                if let vector = state.vector(id) {
                    let metadata = state.metadata[id]
                    try budget.take(vector: vector, metadata: metadata)
                    lookup.found.append(VectorRecord(id: id, vector: vector, metadata: metadata))
                } else {
                    lookup.missing.append(id)
                }
            }
            return lookup
        }
    }

    /// The ids of the live records that pass `filter`, ascending. Call under the state's read (or write) lock.
    func matchingIDs(_ filter: Filter) -> [UInt64] {
        var out: [UInt64] = []
        // The metadata indexes' candidates, when they can tell (a superset, or exactly the matches).
        if !filter.matches(nil),
           let candidates = FilterEstimator(indexes: state.metadataIndexes, exactUpTo: state.count).candidates(filter) {
            out = candidates.exact ? Array(candidates.ids)
                : candidates.ids.filter { filter.matches(state.metadata[$0]?.document) }
            out.sort()
            return out
        }
        if filter.matches(nil) {
            // Records without metadata pass too: walk every id.
            state.ids.forEach { id in
                if filter.matches(state.metadata[id]?.document) { out.append(id) }
            }
        } else {
            for (id, metadata) in state.metadata where filter.matches(metadata.document) { out.append(id) }
            out.sort()
        }
        return out
    }
}

/// Batched exact search: all queries of a batch pass over each tile of rows while it sits in cache, so the
/// matrix streams from memory once per batch instead of once per query, and the inner products run in the
/// register-blocked kernel (`Distance.dotBlock`). See `FlatBatchPass` for how the results stay exact.
extension FlatIndex {
    /// What `blockedSearch` returns: the hits, and how many queries it had to answer with a single-query scan.
    public struct BatchResult: Sendable {
        public var hits: [[SearchHit]]
        /// Queries whose approximate candidates could not be proven to hold the exact top k (a near tie at the
        /// candidate boundary, or vectors so large that float inner products may overflow): they were answered by
        /// `search`. Expected 0 on ordinary data; a benchmark reports it.
        public var rescans: Int
    }

    public func search(batch queries: UnsafeBufferPointer<Float>, count: Int, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [[SearchHit]] {
        blockedSearch(queries, count: count, k: k, filter: filter).hits
    }

    /// `search(batch:...)`, telling how many queries were rescanned. Each list equals `search` for its query:
    /// same ids, bit-identical distances, same order (ties by lower id).
    public func blockedSearch(_ queries: UnsafeBufferPointer<Float>, count: Int, k: Int,
                              filter: ((UInt64) -> Bool)?) -> BatchResult {
        precondition(queries.count == count * dimension, "batch size mismatch")
        guard k > 0, count > 0, !ids.isEmpty, let base = queries.baseAddress else {
            return BatchResult(hits: Array(repeating: [], count: count), rescans: 0)
        }
        if count == 1 {  // nothing to share: the streaming single-query scan is as fast
            return BatchResult(hits: [search(queries, k: k, params: SearchParams(), filter: filter)], rescans: 0)
        }
        var pass = FlatBatchPass(index: self, queries: base, count: count, k: k)
        pass.scan(filter: filter)
        return pass.finish(filter: filter)
    }
}

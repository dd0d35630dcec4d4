import LynxIndex

extension StoreState {
    /// The `k` nearest of `ids` (visible records; others are skipped) to `query`, scored exactly, nearest first,
    /// ties broken by lower id (the order every index answers in). A pending record is scored in the tail.
    func nearest(_ query: UnsafeBufferPointer<Float>, k: Int, among ids: [UInt64]) -> [SearchHit] {
        guard let q = query.baseAddress, k > 0 else { return [] }
        var queryInverseNorm: Float = 1
        if index.metric == .cosine {
            queryInverseNorm = Distance.inverseNorm(q, query.count)
            if queryInverseNorm == 0 { return [] }
        }
        var top = TopK(k: k)
        if let tail, !tail.isEmpty {
            var inIndex: [UInt64] = [], inTail: [UInt64] = []
            for id in ids {
                switch tail.contains(id) {
                case nil: inIndex.append(id)
                case true?: inTail.append(id)
                case false?: break
                }
            }
            index.score(q, queryInverseNorm: queryInverseNorm, ids: inIndex, into: &top)
            tail.vectors.score(q, queryInverseNorm: queryInverseNorm, ids: inTail, into: &top)
        } else {
            index.score(q, queryInverseNorm: queryInverseNorm, ids: ids, into: &top)
        }
        return top.hits(metric: index.metric)
    }
}

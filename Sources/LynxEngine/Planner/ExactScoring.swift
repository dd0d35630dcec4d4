import LynxIndex

enum ExactScoring {
    /// The `k` nearest of `ids` to `query` under `metric`, nearest first, ties broken by lower id (the order every
    /// index answers in). `vector` gives an id's vector (nil: skip it).
    static func nearest(_ query: UnsafeBufferPointer<Float>, k: Int, metric: Metric, among ids: [UInt64],
                        vector: (UInt64) -> [Float]?) -> [SearchHit] {
        guard let q = query.baseAddress, k > 0 else { return [] }
        var queryInverseNorm: Float = 1
        if metric == .cosine {
            queryInverseNorm = Distance.inverseNorm(q, query.count)
            if queryInverseNorm == 0 { return [] }
        }
        var top = TopK(k: k)
        for id in ids {
            guard let v = vector(id) else { continue }
            let score = v.withUnsafeBufferPointer { p -> Float in
                let inverseNorm = metric == .cosine ? Distance.inverseNorm(p.baseAddress!, p.count) : 1
                return Distance.score(metric, q, queryInverseNorm, p.baseAddress!, inverseNorm, p.count)
            }
            top.push(score: score, id: id)
        }
        return top.hits(metric: metric)
    }
}

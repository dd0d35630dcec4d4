extension HNSWIndex {
    // MARK: - search

    public func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [SearchHit] {
        precondition(query.count == dimension, "dimension mismatch")
        guard k > 0, !slotOf.isEmpty, entryPoint != HNSWIndex.none, let q = query.baseAddress else { return [] }
        var qInv: Float = 1
        if metric == .cosine {
            qInv = Distance.inverseNorm(q, dimension)
            if qInv == 0 { return [] }
        }
        let ef = max(params.efSearch ?? efSearch, k)
        let slotCount = ids.count
        var top = CandidateHeap(capacity: ef + 1)
        withView { g in
            let ep = HNSWIndex.greedyDescent(g, q, qInv, start: entryPoint, from: maxLevel, downTo: 0)
            ids.withUnsafeBufferPointer { idb in
                HNSWIndex.searchLayer(g, q, qInv, entry: ep, level: 0, ef: ef, slotCount: slotCount,
                                      ids: idb.baseAddress, filter: filter, results: &top)
            }
        }
        let found = top.drainAscending()
        var tk = TopK(k: min(k, found.count))
        for c in found { tk.push(score: c.score, id: ids[Int(c.slot)]) }
        return tk.hits(metric: metric)
    }
}

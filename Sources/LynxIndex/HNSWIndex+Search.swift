extension HNSWIndex {
    // MARK: - search

    /// Without codes, the exact `ef` beam search. With codes, the beam search compares the query with the codes;
    /// then, unless `params.rescore` is false, the best ⌈k · oversample⌉ of the beam (at least k) are scored
    /// again from the vectors, and the distances returned are exact. With `rescore` false they are the codes'
    /// estimates.
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
        let found = ids.withUnsafeBufferPointer { idb in
            withView { g in
                traverse(BeamSearch(entry: entryPoint, maxLevel: maxLevel, ef: ef, slotCount: slotCount,
                                    ids: idb.baseAddress, filter: filter), g, q, qInv, codeQuery(q, qInv))
            }
        }
        guard hasCodes, params.rescore ?? true else {
            var tk = TopK(k: min(k, found.count))
            for c in found { tk.push(score: c.score, id: ids[Int(c.slot)]) }
            return tk.hits(metric: metric)
        }
        let oversample = params.oversample ?? SearchParams.defaultOversample
        let rescored = min(found.count, max(k, Int((Double(k) * oversample).rounded(.up))))
        var tk = TopK(k: min(k, rescored))
        withView { g in
            for c in found.prefix(rescored) { tk.push(score: g.score(q, qInv, c.slot), id: ids[Int(c.slot)]) }
        }
        return tk.hits(metric: metric)
    }

    /// Greedy descent to level 0, then the `ef` beam search there.
    struct BeamSearch: ScoredTraversal {
        let entry: UInt32
        let maxLevel: Int
        let ef: Int
        let slotCount: Int
        let ids: UnsafePointer<UInt64>?
        let filter: ((UInt64) -> Bool)?

        /// The results, ascending by score.
        func run<S: SlotScorer>(_ g: View, _ scorer: S) -> [Candidate] {
            let ep = HNSWIndex.greedyDescent(g, scorer, start: entry, from: maxLevel, downTo: 0)
            var top = CandidateHeap(capacity: ef + 1)
            HNSWIndex.searchLayer(g, scorer, entry: ep, level: 0, ef: ef, slotCount: slotCount, ids: ids,
                                  filter: filter, results: &top)
            return top.drainAscending()
        }
    }
}

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
        var top = CandidateHeap(capacity: ef + 1)
        ids.withUnsafeBufferPointer { idb in
            func traverse<S: SlotScorer>(_ g: View, _ scorer: S) {
                let ep = HNSWIndex.greedyDescent(g, scorer, start: entryPoint, from: maxLevel, downTo: 0)
                HNSWIndex.searchLayer(g, scorer, entry: ep, level: 0, ef: ef, slotCount: slotCount,
                                      ids: idb.baseAddress, filter: filter, results: &top)
            }
            withView { g in
                if let rabitq {
                    let prepared = rabitq.query(q, scale: qInv, metric: metric)
                    return prepared.weights.withUnsafeBufferPointer { weights in
                        traverse(g, RaBitQScorer(g: g, weights: weights.baseAddress!, unit: prepared.unit,
                                                 offset: prepared.offset, queryTerm: prepared.term,
                                                 bits: rabitq.bits, rowBytes: codes.width))
                    }
                }
                guard let quantizer else { return traverse(g, VectorScorer(g: g, q: q, qInv: qInv)) }
                let w = quantizer.weights(for: q, scale: qInv)
                let queryTerm = metric == .l2 ? Distance.dot(q, q, dimension) : 0
                w.weights.withUnsafeBufferPointer { weights in
                    traverse(g, CodeScorer(g: g, weights: weights.baseAddress!, offset: w.offset, unit: w.unit,
                                           queryTerm: queryTerm))
                }
            }
        }
        let found = top.drainAscending()
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
}

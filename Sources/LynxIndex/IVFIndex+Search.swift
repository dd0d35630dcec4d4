extension IVFIndex {
    /// 1. nProbe = `params.nProbe ?? defaultNProbe`, clamped to 1…lists. Untrained, or nProbe = lists: every list.
    /// 2. Otherwise the nProbe lists with the best centroid scores (ties → lower list) are probed nearest first into
    ///    one bounded top-k heap (ties → lower id); the filter runs only on rows that would enter the heap.
    /// 3. If the probed lists hold fewer than `k` accepted rows, further lists are scanned in centroid order until
    ///    `k` are found or every list has been scanned — so a filtered search returns `k` hits whenever `k`
    ///    matching vectors exist (FAISS would return fewer).
    /// A vector stored twice (spill) is scored once. Probing list c scans all its primary rows (no check) and those
    /// of its spilled rows whose primary list is not probed. A list scanned in step 3 skips every row whose
    /// partner list was scanned before (the other copy was scored there).
    public func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [SearchHit] {
        precondition(query.count == dimension, "dimension mismatch")
        let n = count
        guard k > 0, n > 0, let q = query.baseAddress, let qInv = metric.queryInverseNorm(q, dimension) else { return [] }
        var top = TopK(k: min(k, n))
        let nLists = lists.count
        let nProbe = max(1, min(params.nProbe ?? defaultNProbe, nLists))
        if !isTrained || nProbe >= nLists {
            // every list probed: every vector is scored in its primary list, every spilled row would be skipped
            for c in 0..<nLists { scan(lists[c], q, qInv, &top, filter, nil) }
            return top.hits(metric: metric)
        }
        // rank the centroids
        let dim = dimension, g = geometry
        var cscores = [Float](repeating: 0, count: nLists)
        var nearest = TopK(k: nProbe)
        centroids.withUnsafeBufferPointer { cb in
            centroidNorms.withUnsafeBufferPointer { nb in
                KMeans.forEachScore(g, q, cb.baseAddress!, nb.baseAddress!, nLists, dim) { j, s in
                    cscores[j] = s
                    nearest.push(score: s, id: UInt64(j))
                }
            }
        }
        let order = nearest.sorted()
        var probed = [Bool](repeating: false, count: nLists)  // probed[j]: list j is (being) scanned
        for p in order { probed[Int(p.id)] = true }
        for p in order { probe(Int(p.id), q, qInv, &top, filter, probed) }
        if !top.isFull {
            // too few (accepted) rows in the probed lists: continue in centroid order until k are found
            var rest: [(score: Float, list: Int)] = []
            for j in 0..<nLists where !probed[j] { rest.append((cscores[j], j)) }
            rest.sort { $0.score < $1.score || ($0.score == $1.score && $0.list < $1.list) }
            for r in rest {
                probed.withUnsafeBufferPointer { done in
                    let skip = RowSkip(scanned: done.baseAddress!)
                    scan(lists[r.list], q, qInv, &top, filter, skip)
                    scan(spills[r.list], q, qInv, &top, filter, skip)
                }
                probed[r.list] = true
                if top.isFull { break }
            }
        }
        return top.hits(metric: metric)
    }

    /// Step 2 for list `c` (`probed` marks every list of the probe): its primary rows, then its spilled rows whose
    /// primary list is not probed.
    @inline(__always)
    func probe(_ c: Int, _ q: UnsafePointer<Float>, _ qInv: Float, _ top: inout TopK,
               _ filter: ((UInt64) -> Bool)?, _ probed: [Bool]) {
        scan(lists[c], q, qInv, &top, filter, nil)
        guard spills[c].count > 0 else { return }
        probed.withUnsafeBufferPointer { done in
            scan(spills[c], q, qInv, &top, filter, RowSkip(scanned: done.baseAddress!))
        }
    }

    /// Scores the rows of `list` against `q` (exactly as `FlatIndex` does) into `top`, except those `skip` names.
    @inline(__always)
    func scan(_ list: InvertedList, _ q: UnsafePointer<Float>, _ qInv: Float, _ top: inout TopK,
              _ filter: ((UInt64) -> Bool)?, _ skip: RowSkip?) {
        let n = list.count
        guard n > 0 else { return }
        let dim = dimension
        list.partners.withUnsafeBufferPointer { partners in
            let pp = partners.baseAddress!
            list.data.withUnsafeBufferPointer { dbuf in
                list.ids.withUnsafeBufferPointer { idbuf in
                    let base = dbuf.baseAddress!
                    switch metric {
                    case .l2:
                        IVFIndex.scanRows(n, base, dim, idbuf, pp, skip, &top, filter) { row, _ in
                            Distance.l2Squared(q, row, dim)
                        }
                    case .dot:
                        IVFIndex.scanRows(n, base, dim, idbuf, pp, skip, &top, filter) { row, _ in
                            -Distance.dot(q, row, dim)
                        }
                    case .cosine:
                        list.invNorms.withUnsafeBufferPointer { inv in
                            IVFIndex.scanRows(n, base, dim, idbuf, pp, skip, &top, filter) { row, r in
                                1 - Distance.dot(q, row, dim) * qInv * inv[r]
                            }
                        }
                    }
                }
            }
        }
    }

    /// A row is skipped when its partner list is marked in `scanned`.
    struct RowSkip {
        let scanned: UnsafePointer<Bool>
        @inline(__always) func callAsFunction(_ partner: UInt32) -> Bool { scanned[Int(partner)] }
    }

    @inline(__always)
    static func scanRows(_ n: Int, _ base: UnsafePointer<Float>, _ dim: Int, _ ids: UnsafeBufferPointer<UInt64>,
                         _ partners: UnsafePointer<UInt32>, _ skip: RowSkip?, _ top: inout TopK,
                         _ filter: ((UInt64) -> Bool)?, _ score: (UnsafePointer<Float>, Int) -> Float) {
        var row = base
        for r in 0..<n {
            defer { row += dim }
            if let skip, skip(partners[r]) { continue }
            let s = score(row, r)
            let id = ids[r]
            if !top.wouldAccept(score: s, id: id) { continue }
            if let f = filter, !f(id) { continue }
            top.push(score: s, id: id)
        }
    }
}

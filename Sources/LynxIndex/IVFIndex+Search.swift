extension IVFIndex {
    /// 1. nProbe = `params.nProbe ?? defaultNProbe`, clamped to 1…lists. Untrained, or nProbe = lists: every list.
    /// 2. Otherwise the nProbe lists with the best centroid scores (ties → lower list) are scanned nearest first
    ///    into one bounded top-k heap (ties → lower id); the filter runs only on rows that would enter the heap.
    /// 3. If the probed lists hold fewer than `k` accepted rows, further lists are scanned in centroid order until
    ///    `k` are found or every list has been scanned — so a filtered search returns `k` hits whenever `k`
    ///    matching vectors exist (FAISS would return fewer).
    /// A vector stored twice (spill) is scored once: a row is skipped when its partner list was scanned before.
    public func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [SearchHit] {
        precondition(query.count == dimension, "dimension mismatch")
        let n = count
        guard k > 0, n > 0, let q = query.baseAddress, let qInv = metric.queryInverseNorm(q, dimension) else { return [] }
        var top = TopK(k: min(k, n))
        let nLists = lists.count
        let nProbe = max(1, min(params.nProbe ?? defaultNProbe, nLists))
        // scanned[j]: list j has been scanned (a row whose partner list is scanned was already scored there)
        var scanned = [Bool](repeating: false, count: nLists)
        if !isTrained || nProbe >= nLists {
            for c in 0..<nLists { scan(c, q, qInv, &top, filter, &scanned) }
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
        let probed = nearest.sorted()
        for p in probed { scan(Int(p.id), q, qInv, &top, filter, &scanned) }
        if !top.isFull {
            // too few (accepted) rows in the probed lists: continue in centroid order until k are found
            var rest: [(score: Float, list: Int)] = []
            for j in 0..<nLists where !scanned[j] { rest.append((cscores[j], j)) }
            rest.sort { $0.score < $1.score || ($0.score == $1.score && $0.list < $1.list) }
            for r in rest {
                scan(r.list, q, qInv, &top, filter, &scanned)
                if top.isFull { break }
            }
        }
        return top.hits(metric: metric)
    }

    /// Scores every row of list `c` against `q` (exactly as `FlatIndex` does) into `top`, skipping rows whose
    /// other copy sits in an already scanned list, then marks `c` scanned.
    @inline(__always)
    func scan(_ c: Int, _ q: UnsafePointer<Float>, _ qInv: Float, _ top: inout TopK,
              _ filter: ((UInt64) -> Bool)?, _ scanned: inout [Bool]) {
        defer { scanned[c] = true }
        let list = lists[c]
        let n = list.count
        guard n > 0 else { return }
        let dim = dimension
        // without spilled copies no row has a partner list: skip the check
        let dedup = !spillLocation.isEmpty
        scanned.withUnsafeBufferPointer { done in
            list.partners.withUnsafeBufferPointer { partners in
                let skip = dedup ? IVFIndex.RowSkip(partners: partners.baseAddress!, scanned: done.baseAddress!) : nil
                list.data.withUnsafeBufferPointer { dbuf in
                    list.ids.withUnsafeBufferPointer { idbuf in
                        let base = dbuf.baseAddress!
                        switch metric {
                        case .l2:
                            IVFIndex.scanRows(n, base, dim, idbuf, skip, &top, filter) { row, _ in
                                Distance.l2Squared(q, row, dim)
                            }
                        case .dot:
                            IVFIndex.scanRows(n, base, dim, idbuf, skip, &top, filter) { row, _ in
                                -Distance.dot(q, row, dim)
                            }
                        case .cosine:
                            list.invNorms.withUnsafeBufferPointer { inv in
                                IVFIndex.scanRows(n, base, dim, idbuf, skip, &top, filter) { row, r in
                                    1 - Distance.dot(q, row, dim) * qInv * inv[r]
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Which rows of a list a scan skips: those whose partner list is already scanned.
    struct RowSkip {
        let partners: UnsafePointer<UInt32>
        let scanned: UnsafePointer<Bool>
        @inline(__always) func callAsFunction(_ r: Int) -> Bool { scanned[Int(partners[r] & IVFIndex.partnerMask)] }
    }

    @inline(__always)
    static func scanRows(_ n: Int, _ base: UnsafePointer<Float>, _ dim: Int, _ ids: UnsafeBufferPointer<UInt64>,
                         _ skip: RowSkip?, _ top: inout TopK, _ filter: ((UInt64) -> Bool)?,
                         _ score: (UnsafePointer<Float>, Int) -> Float) {
        var row = base
        for r in 0..<n {
            defer { row += dim }
            if let skip, skip(r) { continue }
            let s = score(row, r)
            let id = ids[r]
            if !top.wouldAccept(score: s, id: id) { continue }
            if let f = filter, !f(id) { continue }
            top.push(score: s, id: id)
        }
    }
}

extension IVFIndex {
    /// Re-runs k-means over all current vectors and redistributes them into new lists (ids ascending within a
    /// list). Clusters: `configuredClusters`, or round(√count) when it is 0, clamped to the count. Training uses a
    /// sample of at most 256 points per cluster, drawn with the index's seed from the vectors in id order, so the
    /// result depends only on the contents (not on the insertion history). With spill 1 every vector also gets a
    /// spilled copy (`SOAR.secondary`). With fewer than `trainThreshold` vectors the index returns to the untrained
    /// state (one exact list, no spilled copies). Cost: O(sample · clusters · d · iterations) for k-means plus
    /// O(n · clusters · d) to reassign (twice that with spill); peak memory briefly holds the old and the new lists.
    public mutating func retrain() {
        let n = count, dim = dimension
        let cosine = metric == .cosine
        // every vector's primary copy, ids ascending
        var refs: [(id: UInt64, loc: UInt64)] = []
        refs.reserveCapacity(n)
        for (id, loc) in location { refs.append((id, loc)) }
        refs.sort { $0.id < $1.id }

        guard n > 0, n >= trainThreshold else {
            // back to (or stay in) the untrained state: one exact list
            redistribute(refs, lists: 1, primary: [Int32](repeating: 0, count: n), secondary: nil)
            centroids = []
            centroidNorms = []
            isTrained = false
            trainedCount = 0
            trainingIterations = 0
            return
        }

        let wanted = configuredClusters > 0 ? configuredClusters : Int(Double(n).squareRoot().rounded())
        let k = max(1, min(wanted, n))
        var rng = SplitMix64(seed: seed)
        let m = min(n, IVFIndex.maxPointsPerCentroid * k)
        // sample: the first m of a seeded partial Fisher–Yates shuffle of the id-ordered vectors
        var order = Array(0..<n)
        if m < n {
            for i in 0..<m {
                let j = i + rng.below(n - i)
                order.swapAt(i, j)
            }
        }
        var sample = [Float](repeating: 0, count: m * dim)
        sample.withUnsafeMutableBufferPointer { sb in
            let s = sb.baseAddress!
            for i in 0..<m {
                let (c, r) = IVFIndex.unpack(refs[order[i]].loc)
                let dst = s + i * dim
                lists[c].data.withUnsafeBufferPointer { d in dst.update(from: d.baseAddress! + r * dim, count: dim) }
                if cosine {
                    let inv = lists[c].invNorms[r]
                    for t in 0..<dim { dst[t] *= inv }
                }
            }
        }
        let result = sample.withUnsafeBufferPointer {
            KMeans.train(points: $0, count: m, dimension: dim, k: k, geometry: geometry,
                         maxIterations: IVFIndex.maxIterations, rng: &rng)
        }
        sample = []

        // reassign every vector to its nearest new centroid (and its spilled list)
        centroids = result.centroids
        centroidNorms = KMeans.squaredNorms(result.centroids, k, dim)
        isTrained = true
        var primary = [Int32](repeating: 0, count: n)
        var secondary = [Int32](repeating: -1, count: n)
        for (i, ref) in refs.enumerated() {  // `placement` reads only the new centroids; the old lists hold the rows
            let (c, r) = IVFIndex.unpack(ref.loc)
            let inv = cosine ? lists[c].invNorms[r] : 0
            let (p, s) = lists[c].data.withUnsafeBufferPointer { d in placement(d.baseAddress! + r * dim, inv: inv) }
            primary[i] = Int32(p)
            secondary[i] = Int32(s)
        }
        redistribute(refs, lists: k, primary: primary, secondary: spill > 0 ? secondary : nil)
        trainedCount = n
        trainingIterations = result.iterations
    }

    /// Rebuilds `lists`, `spills`, `location` and `spillLocation` from the current primary rows: vector `refs[i]`
    /// (id-ordered) goes to list `primary[i]` and, when `secondary[i] ≥ 0`, has a spilled copy in list `secondary[i]`.
    mutating func redistribute(_ refs: [(id: UInt64, loc: UInt64)], lists k: Int, primary: [Int32],
                               secondary: [Int32]?) {
        let dim = dimension, cosine = metric == .cosine
        var sizes = [Int](repeating: 0, count: k), spillSizes = [Int](repeating: 0, count: k)
        for p in primary { sizes[Int(p)] += 1 }
        if let secondary { for s in secondary where s >= 0 { spillSizes[Int(s)] += 1 } }
        func empty(_ sizes: [Int]) -> [InvertedList] {
            sizes.map { size in
                var l = InvertedList()
                l.ids.reserveCapacity(size)
                l.data.reserveCapacity(size * dim)
                l.partners.reserveCapacity(size)
                if cosine { l.invNorms.reserveCapacity(size) }
                return l
            }
        }
        var newLists = empty(sizes), newSpills = empty(spillSizes)
        var newLocation: [UInt64: UInt64] = [:]
        newLocation.reserveCapacity(refs.count)
        var newSpillLocation: [UInt64: UInt64] = [:]
        if secondary != nil { newSpillLocation.reserveCapacity(refs.count) }
        func add(_ l: inout InvertedList, _ id: UInt64, _ c: Int, _ r: Int, partner: Int) -> UInt64 {
            precondition(l.count < Int(UInt32.max), "IVFIndex lists are limited to 2^32 - 1 vectors")
            let row = l.count
            l.ids.append(id)
            l.data.append(contentsOf: lists[c].data[(r * dim)..<((r + 1) * dim)])
            if cosine { l.invNorms.append(lists[c].invNorms[r]) }
            l.partners.append(UInt32(partner))
            return UInt64(row)
        }
        for (i, ref) in refs.enumerated() {
            let (c, r) = IVFIndex.unpack(ref.loc)
            let p = Int(primary[i]), s = Int(secondary?[i] ?? -1)
            newLocation[ref.id] = IVFIndex.pack(p, Int(add(&newLists[p], ref.id, c, r, partner: s >= 0 ? s : p)))
        }
        // Spilled rows grouped by their primary list (then by id): a probe skips the spilled rows whose primary list
        // it probes, and grouped they are skipped in runs whose memory is never read.
        if let secondary {
            var byPrimary = Array(refs.indices)
            byPrimary.sort { primary[$0] < primary[$1] || (primary[$0] == primary[$1] && $0 < $1) }
            for i in byPrimary where secondary[i] >= 0 {
                let (c, r) = IVFIndex.unpack(refs[i].loc)
                let p = Int(primary[i]), s = Int(secondary[i])
                newSpillLocation[refs[i].id] = IVFIndex.pack(s, Int(add(&newSpills[s], refs[i].id, c, r, partner: p)))
            }
        }
        lists = newLists
        spills = newSpills
        location = newLocation
        spillLocation = newSpillLocation
    }
}

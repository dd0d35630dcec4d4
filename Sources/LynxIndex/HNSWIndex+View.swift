import CLynxKernels

extension HNSWIndex {
    /// Read-only raw view of the graph, valid only inside `withView`.
    struct View {
        let dim: Int
        let metric: Metric
        /// Chunk base table of `vectors` (`ChunkedRows.withChunkBases`).
        let vectorChunks: UnsafePointer<UnsafeMutablePointer<Float>>
        /// `invNorms` (nil unless cosine).
        let invNorms: UnsafePointer<Float>?
        /// `links0`: level-0 blocks of `stride0` per slot.
        let links0: UnsafePointer<UInt32>
        /// `upperLinks` (nil while no node has a level above 0) and `upperStart`, its per-slot block offsets.
        let upperLinks: UnsafePointer<UInt32>?
        let upperStart: UnsafePointer<UInt32>
        let states: UnsafePointer<SlotState>
        let stride0: Int
        let strideUp: Int
        /// A slot treated as tombstoned in addition to `states` (the plan of a replacement sees the old node
        /// as removed before the removal is applied), or `HNSWIndex.none`.
        let dead: UInt32
        /// Chunk base table of `codes.cells` and its cells per row; `codeTerms` (nil unless l2 with sq8 codes).
        let codeChunks: UnsafePointer<UnsafeMutablePointer<Float>>
        let codeCells: Int
        let codeTerms: UnsafePointer<Float>?

        @inline(__always)
        func vec(_ s: UInt32) -> UnsafePointer<Float> { ChunkedRows.address(vectorChunks, row: Int(s), width: dim) }

        @inline(__always)
        func code(_ s: UInt32) -> UnsafePointer<UInt8> {
            UnsafeRawPointer(ChunkedRows.address(codeChunks, row: Int(s), width: codeCells)).assumingMemoryBound(to: UInt8.self)
        }

        /// Starts loading the first cache lines of slot `s`'s code (`bytes` long; four lines at most).
        @inline(__always)
        func prefetchCode(_ s: UInt32, bytes: Int) {
            let raw = UnsafeRawPointer(code(s))
            var line = 0
            while line < bytes && line < 256 {
                lynx_prefetch(raw + line)
                line &+= 64
            }
        }

        @inline(__always)
        func score(_ q: UnsafePointer<Float>, _ qInv: Float, _ s: UInt32) -> Float {
            let p = vec(s)
            switch metric {
            case .l2: return Distance.l2Squared(q, p, dim)
            case .cosine: return 1 - Distance.dot(q, p, dim) * qInv * invNorms.unsafelyUnwrapped[Int(s)]
            case .dot: return -Distance.dot(q, p, dim)
            }
        }

        @inline(__always)
        func links(_ s: UInt32, _ level: Int) -> UnsafePointer<UInt32> {
            level == 0
                ? links0 + Int(s) &* stride0
                : upperLinks.unsafelyUnwrapped + (Int(upperStart[Int(s)]) &+ (level &- 1) &* strideUp)
        }
    }

    @inline(__always)
    func withView<R>(dead: UInt32 = HNSWIndex.none, _ body: (View) -> R) -> R {
        vectors.withChunkBases { chunks in
            invNorms.withUnsafeBufferPointer { inv in
                links0.withUnsafeBufferPointer { l0 in
                    upperLinks.withUnsafeBufferPointer { upper in
                        upperStart.withUnsafeBufferPointer { starts in
                            states.withUnsafeBufferPointer { st in
                                codes.cells.withChunkBases { codeChunks in
                                    codeTerms.withUnsafeBufferPointer { terms in
                                        body(View(dim: dimension, metric: metric, vectorChunks: chunks,
                                                  invNorms: inv.baseAddress, links0: l0.baseAddress!,
                                                  upperLinks: upper.baseAddress, upperStart: starts.baseAddress!,
                                                  states: st.baseAddress!, stride0: stride0, strideUp: strideUp, dead: dead,
                                                  codeChunks: codeChunks, codeCells: codes.cells.width,
                                                  codeTerms: terms.baseAddress))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - traversal (read-only)

    /// Greedy walk from `start` down to level `target + 1`; returns the closest node found on level `target + 1`.
    @inline(__always)
    static func greedyDescent<S: SlotScorer>(_ g: View, _ scorer: S, start: UInt32,
                                             from top: Int, downTo target: Int) -> UInt32 {
        var cur = start
        var curd = scorer.score(cur)
        var level = top
        while level > target {
            var changed = true
            while changed {
                changed = false
                let l = g.links(cur, level)
                let c = Int(l[0])
                var i = 1
                while i <= c {
                    let n = l[i]
                    let d = scorer.score(n)
                    if d < curd {
                        curd = d
                        cur = n
                        changed = true
                    }
                    i &+= 1
                }
            }
            level &-= 1
        }
        return cur
    }

    /// Beam search on one level (hnswlib searchBaseLayer / searchBaseLayerST). Every node is traversed; only nodes
    /// that are live (and pass `filter`, given the id table) enter the result heap. Returns up to `ef` results.
    static func searchLayer<S: SlotScorer>(_ g: View, _ scorer: S, entry: UInt32, level: Int,
                                           ef: Int, slotCount: Int, ids: UnsafePointer<UInt64>?,
                                           filter: ((UInt64) -> Bool)?, results top: inout CandidateHeap) {
        let visited = VisitedSet(count: slotCount)
        var cand = CandidateHeap(capacity: ef * 2)
        @inline(__always) func allowed(_ s: UInt32) -> Bool {
            if g.states[Int(s)] != .live || s == g.dead { return false }
            if let f = filter { return f(ids.unsafelyUnwrapped[Int(s)]) }
            return true
        }
        let d0 = scorer.score(entry)
        var lowerBound: Float = .infinity
        if allowed(entry) {
            top.push(d0, entry)
            lowerBound = d0
        }
        cand.push(-d0, entry)
        _ = visited.insert(entry)
        let pending = UnsafeMutablePointer<UInt32>.allocate(capacity: max(g.stride0, g.strideUp))
        defer { pending.deallocate() }
        while !cand.isEmpty {
            let c = cand.top
            if -c.score > lowerBound && top.count >= ef { break }
            cand.pop()
            let l = g.links(c.slot, level)
            let n = Int(l[0])
            // pass 1: collect the unvisited neighbours and prefetch the first cache lines of each one's vector or
            // code, so that their cache misses are in flight at once (BENCHMARKS.md, "Index measurements", has the
            // figures behind the line count).
            var cnt = 0
            var i = 1
            while i <= n {
                let nb = l[i]
                i &+= 1
                if !visited.insert(nb) { continue }
                pending[cnt] = nb
                cnt &+= 1
                scorer.prefetch(nb)
            }
            // pass 2: distances
            var j = 0
            while j < cnt {
                let nb = pending[j]
                j &+= 1
                let d = scorer.score(nb)
                if top.count < ef || d < lowerBound {
                    cand.push(-d, nb)
                    if allowed(nb) {
                        top.push(d, nb)
                        if top.count > ef { top.pop() }
                        lowerBound = top.top.score
                    }
                }
            }
        }
    }

    /// Beam search for a node being inserted (live nodes only in the result; `dead` is treated as tombstoned too),
    /// on the codes when `x` links on them.
    func constructionSearch(_ x: NewNode, entry: UInt32, level: Int, dead: UInt32) -> [Candidate] {
        let beam = LayerSearch(entry: entry, level: level, ef: efConstruction, slotCount: ids.count)
        return withView(dead: dead) { g in traverse(beam, g, x.q, x.inv, x.codeQuery) }
    }

    func descend(_ x: NewNode, from top: Int, downTo target: Int) -> UInt32 {
        withView { g in traverse(Descent(start: entryPoint, top: top, target: target), g, x.q, x.inv, x.codeQuery) }
    }

    /// `searchLayer` without ids or a filter, as a `ScoredTraversal`.
    struct LayerSearch: ScoredTraversal {
        let entry: UInt32
        let level: Int
        let ef: Int
        let slotCount: Int

        /// The results, ascending by score.
        func run<S: SlotScorer>(_ g: View, _ scorer: S) -> [Candidate] {
            var top = CandidateHeap(capacity: ef + 1)
            HNSWIndex.searchLayer(g, scorer, entry: entry, level: level, ef: ef, slotCount: slotCount, ids: nil,
                                  filter: nil, results: &top)
            return top.drainAscending()
        }
    }

    /// `greedyDescent` as a `ScoredTraversal`.
    struct Descent: ScoredTraversal {
        let start: UInt32
        let top: Int
        let target: Int

        func run<S: SlotScorer>(_ g: View, _ scorer: S) -> UInt32 {
            HNSWIndex.greedyDescent(g, scorer, start: start, from: top, downTo: target)
        }
    }

    /// The score of one slot.
    struct ScoreOne: ScoredTraversal {
        let slot: UInt32

        func run<S: SlotScorer>(_ g: View, _ scorer: S) -> Float { scorer.score(slot) }
    }
}

/// How a traversal scores a slot against its query: from the vectors (`VectorScorer`) or from the codes
/// (`HNSWIndex.CodeScorer`, in `+Codes`). Generic parameters, so each traversal is specialized for one.
protocol SlotScorer {
    func score(_ s: UInt32) -> Float
    /// Starts loading what `score(s)` reads.
    func prefetch(_ s: UInt32)
}

extension HNSWIndex {
    /// The query against the stored vectors: the exact score.
    struct VectorScorer: SlotScorer {
        let g: View
        let q: UnsafePointer<Float>
        let qInv: Float

        @inline(__always)
        func score(_ s: UInt32) -> Float { g.score(q, qInv, s) }

        @inline(__always)
        func prefetch(_ s: UInt32) {
            let raw = UnsafeRawPointer(g.vec(s))
            lynx_prefetch(raw)
            lynx_prefetch(raw + 64)
            lynx_prefetch(raw + 128)
            lynx_prefetch(raw + 192)
        }
    }
}

import CLynxKernels

/// One batched search over a `FlatIndex` (see `FlatIndex.blockedSearch`), in two phases.
///
/// 1. Approximate scan. Rows are taken in tiles small enough to stay in L2; for each tile, blocks of queries get
///    their inner products from `Distance.dotBlock` and turn them into approximate scores: ‖q‖² + ‖x‖² − 2 q·x
///    (l2), 1 − (q·x)·(1/‖q‖)·(1/‖x‖) (cosine), −q·x (dot). Each query keeps its `k + extraCandidates` best rows.
/// 2. Exact re-rank. The candidates are re-scored with the very expression `FlatIndex.search` uses
///    (`Distance.score`), so distances are bit-identical and ties go to the lower id. The candidates provably
///    contain the exact top k when the worst kept approximate score, minus the largest possible difference
///    between an approximate and an exact score (`maxScoreError`), is still worse than the k-th exact score:
///    every row left out scored at least that worst approximately. Otherwise (a near tie at the boundary)
///    the query is answered by `search`.
///
/// The filter is asked at most once per row per batch, only for rows that would enter some query's candidates.
struct FlatBatchPass {
    /// Candidates kept beyond k: enough that a rescan is rare (the boundary gap must exceed ~1e-4 · scale).
    static let extraCandidates = 16
    /// Queries per kernel call: their products for one tile (queryBlock × tile rows floats) stay in L1/L2.
    static let queryBlock = 64

    /// Rows per tile: about 192 KB of rows (half the L2 of the smallest core we run on), a multiple of 3 (the
    /// kernel's row step), at most one chunk.
    static func tileRows(dimension: Int) -> Int {
        max(3, min(ChunkedRows.rowsPerChunk, (192 * 1024 / (4 * dimension)) / 3 * 3))
    }

    let index: FlatIndex
    let queries: UnsafePointer<Float>
    let count: Int
    let k: Int
    /// Per query: the score's constant term (‖q‖² for l2, 1 for cosine, 0 for dot) and the factor on q·x before
    /// the row's factor (1/‖q‖ for cosine, else 1). A cosine query with no direction gets threshold −∞: no hits.
    var queryTerm: [Float]
    var queryScale: [Float]
    var queryNorm: [Double]
    /// Per query: approximate candidates (the heap's ids are row numbers) and their current admission bound.
    var candidates: [TopK]
    var thresholds: [Float]
    /// Largest row norm seen (for the error bound).
    var maxRowNorm: Double = 0
    /// Per row, when filtering: 0 not asked yet, 1 passes, 2 fails.
    var filterState: [UInt8] = []

    init(index: FlatIndex, queries: UnsafePointer<Float>, count: Int, k: Int) {
        self.index = index
        self.queries = queries
        self.count = count
        self.k = k
        let dim = index.dimension
        let keep = min(k, index.count) + Self.extraCandidates
        queryTerm = [Float](repeating: 0, count: count)
        queryScale = [Float](repeating: 1, count: count)
        queryNorm = [Double](repeating: 0, count: count)
        thresholds = [Float](repeating: .infinity, count: count)
        candidates = (0..<count).map { _ in TopK(k: keep) }
        for i in 0..<count {
            let q = queries + i * dim
            let norm2 = Distance.dot(q, q, dim)
            queryNorm[i] = Double(norm2).squareRoot()
            switch index.metric {
            case .l2: queryTerm[i] = norm2
            case .dot: break
            case .cosine:
                queryTerm[i] = 1
                queryScale[i] = Distance.inverseNorm(q, dim)
                if queryScale[i] == 0 { thresholds[i] = -.infinity }  // as `search`: no results
            }
        }
    }

    // MARK: - Phase 1: approximate scan

    mutating func scan(filter: ((UInt64) -> Bool)?) {
        let dim = index.dimension
        let tileRows = Self.tileRows(dimension: dim)
        if filter != nil { filterState = [UInt8](repeating: 0, count: index.count) }
        let products = UnsafeMutablePointer<Float>.allocate(capacity: Self.queryBlock * tileRows)
        let rowTerm = UnsafeMutablePointer<Float>.allocate(capacity: tileRows)
        let rowScale = UnsafeMutablePointer<Float>.allocate(capacity: tileRows)
        let offers = Offers(capacity: tileRows)
        defer { products.deallocate(); rowTerm.deallocate(); rowScale.deallocate(); offers.deallocate() }
        index.data.forEachChunk { chunk, firstRow, rows in
            var start = 0
            while start < rows {
                let tileCount = min(tileRows, rows - start)
                let tile = chunk + start * dim
                prepareRows(tile, firstRow: firstRow + start, count: tileCount, rowTerm: rowTerm, rowScale: rowScale)
                var block = 0
                while block < count {
                    let blockCount = min(Self.queryBlock, count - block)
                    Distance.dotBlock(queries + block * dim, blockCount, tile, tileCount, dim, into: products, ldo: tileCount)
                    for i in 0..<blockCount {
                        collect(query: block + i, products: products + i * tileCount, count: tileCount,
                                firstRow: firstRow + start, rowTerm: rowTerm, rowScale: rowScale, offers: offers,
                                filter: filter)
                    }
                    block += blockCount
                }
                start += tileCount
            }
        }
    }

    /// The per-row parts of the approximate score: term (‖x‖² for l2) and factor on q·x (−2, −1/‖x‖, −1).
    private mutating func prepareRows(_ tile: UnsafePointer<Float>, firstRow: Int, count rows: Int,
                                      rowTerm: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>) {
        let dim = index.dimension
        var largest: Float = 0
        for j in 0..<rows {
            let x = tile + j * dim
            let norm2 = Distance.dot(x, x, dim)
            largest = max(largest, norm2)
            switch index.metric {
            case .l2: rowTerm[j] = norm2; rowScale[j] = -2
            case .cosine: rowTerm[j] = 0; rowScale[j] = -index.invNorms[firstRow + j]
            case .dot: rowTerm[j] = 0; rowScale[j] = -1
            }
        }
        maxRowNorm = max(maxRowNorm, Double(largest).squareRoot())
    }

    /// Offers one query's approximate scores for a tile to its candidates. Most rows score worse than the worst
    /// candidate; with AVX2 the C kernel drops those 8 at a time and hands over the rest (scored against the
    /// threshold at the tile's start, so they are re-checked against the current one).
    @inline(__always)
    private mutating func collect(query qi: Int, products: UnsafePointer<Float>, count rows: Int, firstRow: Int,
                                  rowTerm: UnsafePointer<Float>, rowScale: UnsafePointer<Float>,
                                  offers: Offers, filter: ((UInt64) -> Bool)?) {
        var threshold = thresholds[qi]
        let term = queryTerm[qi], scale = queryScale[qi]
        if Distance.usesAVX2 {
            let found = lynx_scores_below_avx2(products, rowTerm, rowScale, rows, term, scale, threshold,
                                               offers.scores, offers.rows)
            for f in 0..<found where offers.scores[f] < threshold {
                threshold = admit(query: qi, score: offers.scores[f], row: firstRow + Int(offers.rows[f]), filter: filter)
            }
        } else {
            for j in 0..<rows {
                let score = term + rowTerm[j] + products[j] * scale * rowScale[j]
                if score < threshold {
                    threshold = admit(query: qi, score: score, row: firstRow + j, filter: filter)
                }
            }
        }
        thresholds[qi] = threshold
    }

    /// Pushes a row into a query's candidates if it passes the filter; returns the new admission bound.
    private mutating func admit(query qi: Int, score: Float, row: Int, filter: ((UInt64) -> Bool)?) -> Float {
        if let filter {
            if filterState[row] == 0 { filterState[row] = filter(index.ids[row]) ? 1 : 2 }
            if filterState[row] == 2 { return candidates[qi].threshold }
        }
        candidates[qi].push(score: score, id: UInt64(row))
        return candidates[qi].threshold
    }

    /// Scratch for the rows of a tile that beat a query's threshold (scores and tile-relative row numbers).
    struct Offers {
        let scores: UnsafeMutablePointer<Float>
        let rows: UnsafeMutablePointer<Int32>
        init(capacity: Int) {
            scores = .allocate(capacity: capacity)
            rows = .allocate(capacity: capacity)
        }
        func deallocate() {
            scores.deallocate()
            rows.deallocate()
        }
    }

    // MARK: - Phase 2: exact re-rank

    func finish(filter: ((UInt64) -> Bool)?) -> FlatIndex.BatchResult {
        let dim = index.dimension, metric = index.metric
        var hits: [[SearchHit]] = []
        hits.reserveCapacity(count)
        var rescans = 0
        for qi in 0..<count {
            let q = queries + qi * dim
            if thresholds[qi] == -.infinity {
                hits.append([])
                continue
            }
            let pool = candidates[qi]
            var top = TopK(k: min(k, index.count))
            for c in 0..<pool.count {
                let row = Int(pool.ids[c])
                let invRow = metric == .cosine ? index.invNorms[row] : 1
                top.push(score: Distance.score(metric, q, queryScale[qi], index.data.row(row), invRow, dim),
                         id: index.ids[row])
            }
            if isProven(query: qi, pool: pool, top: top) {
                hits.append(top.hits(metric: metric))
            } else {
                rescans += 1
                hits.append(index.search(UnsafeBufferPointer(start: q, count: dim), k: k, params: SearchParams(),
                                         filter: filter))
            }
        }
        return FlatIndex.BatchResult(hits: hits, rescans: rescans)
    }

    /// Whether the exact top k of the candidates is the exact top k of all rows (see the type's comment).
    private func isProven(query qi: Int, pool: TopK, top: TopK) -> Bool {
        let reach = queryNorm[qi] + maxRowNorm
        // Past this, float products may overflow and approximate scores mean nothing.
        guard reach * reach < Double(Float.greatestFiniteMagnitude) / 8 else { return false }
        guard pool.isFull else { return true }  // every row that passed the filter is a candidate
        let bound = Self.maxScoreError(index.metric, dimension: index.dimension, queryNorm: queryNorm[qi],
                                       maxRowNorm: maxRowNorm)
        return Double(pool.threshold) - bound > Double(top.threshold)
    }

    /// Twice the worst-case difference between an approximate and an exact score. Any float sum of n products
    /// is within γ(n)·Σ|aᵢbᵢ| of the true value, γ(n) = n·u/(1 − n·u), u = 2⁻²⁴, whatever the order; both scores
    /// are such sums (plus a few roundings, covered by the n + 8), so they differ by at most 2·γ(n + 8)·scale,
    /// where scale bounds the magnitudes: (‖q‖ + ‖x‖)² for l2, ‖q‖·‖x‖ for dot, ~1 for cosine.
    static func maxScoreError(_ metric: Metric, dimension: Int, queryNorm: Double, maxRowNorm: Double) -> Double {
        let nu = Double(dimension + 8) * 0x1p-24
        guard nu < 0.5 else { return .infinity }
        let gamma = nu / (1 - nu)
        switch metric {
        case .l2: return 4 * gamma * (queryNorm + maxRowNorm) * (queryNorm + maxRowNorm)
        case .dot: return 4 * gamma * queryNorm * maxRowNorm
        case .cosine: return 4 * gamma + 16 * 0x1p-24
        }
    }
}

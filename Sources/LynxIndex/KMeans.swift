/// k-means (Lloyd's algorithm) with k-means++ seeding, used to train the coarse quantizer of `IVFIndex`.
///
/// - Seeding: k-means++ (one candidate per step) with squared Euclidean distances between the training points.
/// - Iterations: at most `maxIterations`; stops early once no point changes its cluster.
/// - Empty clusters: after each assignment step an empty cluster takes the point that is farthest from its own
///   centroid (among clusters with more than one point); that point becomes its centroid.
/// - Geometry `.euclidean`: assign by the smallest squared L2 distance; centroid = mean.
///   Geometry `.spherical`: assign by the largest inner product; centroid = mean rescaled to unit length (as FAISS
///   does with `ClusteringParameters.spherical`, which `IndexIVF` turns on for `METRIC_INNER_PRODUCT`).
/// - Sums are accumulated in Double; every step is deterministic for a given seed and input order.
///
/// Thread safety: pure functions over the caller's buffers; use from any thread.
enum KMeans {
    enum Geometry: Sendable {
        case euclidean, spherical
    }

    /// x·rowⱼ for four rows `c`, `c + stride`, `c + 2·stride`, `c + 3·stride` at once: the loads of `x` are
    /// shared and the four accumulator pairs are independent, so this runs at about twice the speed of four
    /// `Distance.dot` calls (it is bound by arithmetic throughput, not by the latency of one accumulator chain).
    @inline(__always)
    static func dot4(_ x: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ stride: Int, _ d: Int) -> SIMD4<Float> {
        let rx = UnsafeRawPointer(x)
        let r0 = UnsafeRawPointer(c), r1 = UnsafeRawPointer(c + stride)
        let r2 = UnsafeRawPointer(c + 2 &* stride), r3 = UnsafeRawPointer(c + 3 &* stride)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i &+ 8 <= d {
            let o = i &* 4
            let xv = rx.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a0 = a0 + xv * r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a1 = a1 + xv * r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a2 = a2 + xv * r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a3 = a3 + xv * r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            i &+= 8
        }
        var s = SIMD4<Float>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
        while i < d {
            s = s + SIMD4<Float>(c[i], c[stride &+ i], c[2 &* stride &+ i], c[3 &* stride &+ i]) * x[i]
            i &+= 1
        }
        return s
    }

    /// Calls `body(j, score)` for each of `k` row-major centroids, j ascending. Score (lower is nearer):
    /// `.euclidean`: ‖c‖² − 2·x·c (squared L2 minus the constant ‖x‖², as FAISS's quantizers rank);
    /// `.spherical`: −x·c. `norms` holds ‖cⱼ‖² (read only under `.euclidean`).
    @inline(__always)
    static func forEachScore(_ g: Geometry, _ x: UnsafePointer<Float>, _ centroids: UnsafePointer<Float>,
                             _ norms: UnsafePointer<Float>, _ k: Int, _ d: Int, _ body: (Int, Float) -> Void) {
        var j = 0
        var c = centroids
        let euclid = g == .euclidean
        while j &+ 4 <= k {
            let dots = dot4(x, c, d, d)
            for t in 0..<4 {
                body(j &+ t, euclid ? norms[j &+ t] - 2 * dots[t] : -dots[t])
            }
            j &+= 4
            c += 4 &* d
        }
        while j < k {
            let dt = Distance.dot(x, c, d)
            body(j, euclid ? norms[j] - 2 * dt : -dt)
            j &+= 1
            c += d
        }
    }

    /// The nearest of `k` centroids to `x` and its `forEachScore` score; ties go to the lower index.
    @inline(__always)
    static func nearest(_ g: Geometry, _ x: UnsafePointer<Float>, _ centroids: UnsafePointer<Float>,
                        _ norms: UnsafePointer<Float>, _ k: Int, _ d: Int) -> (index: Int, score: Float) {
        var best = 0
        var bestScore = Float.infinity
        forEachScore(g, x, centroids, norms, k, d) { j, s in
            if s < bestScore { bestScore = s; best = j }
        }
        return (best, bestScore)
    }

    /// ‖cⱼ‖² of each of the `k` rows.
    static func squaredNorms(_ centroids: [Float], _ k: Int, _ d: Int) -> [Float] {
        centroids.withUnsafeBufferPointer { cb in
            (0..<k).map { j in Distance.dot(cb.baseAddress! + j * d, cb.baseAddress! + j * d, d) }
        }
    }

    struct Result {
        /// k × d, row-major.
        var centroids: [Float]
        /// Assignment steps run (the last one found no change unless the cap was reached).
        var iterations: Int
    }

    /// Clusters `m` points (row-major `points`, m × d) into `k` clusters. Preconditions: 1 ≤ k ≤ m, d ≥ 1,
    /// all components finite.
    static func train(points: UnsafeBufferPointer<Float>, count m: Int, dimension d: Int, k: Int,
                      geometry: Geometry, maxIterations: Int, rng: inout SplitMix64) -> Result {
        precondition(k >= 1 && k <= m && d >= 1 && points.count >= m * d, "bad k-means arguments")
        let x = points.baseAddress!
        var centroids = seedPlusPlus(x, m, d, k, &rng)
        if geometry == .spherical {
            centroids.withUnsafeMutableBufferPointer { c in
                for j in 0..<k { normalize(c.baseAddress! + j * d, d) }
            }
        }
        var assign = [Int32](repeating: -1, count: m)
        var best = [Float](repeating: 0, count: m)
        var sizes = [Int](repeating: 0, count: k)
        var sums = [Double](repeating: 0, count: k * d)
        // ‖x‖² turns the euclidean score back into a squared distance (used to pick the farthest point)
        var pointNorms = [Float](repeating: 0, count: m)
        if geometry == .euclidean {
            for i in 0..<m { pointNorms[i] = Distance.dot(x + i * d, x + i * d, d) }
        }
        var iterations = 0
        for _ in 0..<max(1, maxIterations) {
            iterations += 1
            // assignment step
            var changed = 0
            let norms = squaredNorms(centroids, k, d)
            centroids.withUnsafeBufferPointer { cb in
                norms.withUnsafeBufferPointer { nb in
                    let c = cb.baseAddress!, cn = nb.baseAddress!
                    for i in 0..<m {
                        let (j, s) = nearest(geometry, x + i * d, c, cn, k, d)
                        best[i] = s + pointNorms[i]
                        if assign[i] != Int32(j) { assign[i] = Int32(j); changed += 1 }
                    }
                }
            }
            if changed == 0 { break }
            for j in 0..<k { sizes[j] = 0 }
            for i in 0..<m { sizes[Int(assign[i])] += 1 }
            // empty-cluster repair: steal the worst-served point of a cluster that can spare one
            for j in 0..<k where sizes[j] == 0 {
                var far = -1
                var farScore = -Float.infinity
                for i in 0..<m where sizes[Int(assign[i])] > 1 && best[i] > farScore {
                    far = i
                    farScore = best[i]
                }
                guard far >= 0 else { break }  // fewer distinct donors than clusters: leave it empty
                sizes[Int(assign[far])] -= 1
                assign[far] = Int32(j)
                sizes[j] = 1
                best[far] = geometry == .euclidean ? 0 : -Float.infinity
            }
            // update step: mean of the members (Double sums); an empty cluster keeps its centroid
            for t in 0..<(k * d) { sums[t] = 0 }
            sums.withUnsafeMutableBufferPointer { sb in
                let s = sb.baseAddress!
                for i in 0..<m {
                    let row = s + Int(assign[i]) * d
                    let p = x + i * d
                    for t in 0..<d { row[t] += Double(p[t]) }
                }
            }
            centroids.withUnsafeMutableBufferPointer { cb in
                let c = cb.baseAddress!
                for j in 0..<k where sizes[j] > 0 {
                    let inv = 1.0 / Double(sizes[j])
                    let row = c + j * d
                    if geometry == .spherical {
                        var nn = 0.0
                        for t in 0..<d { nn += sums[j * d + t] * sums[j * d + t] }
                        guard nn > 0, nn.isFinite else { continue }  // members cancel out: keep the old direction
                        let scale = 1.0 / nn.squareRoot()
                        for t in 0..<d { row[t] = Float(sums[j * d + t] * scale) }
                    } else {
                        for t in 0..<d { row[t] = Float(sums[j * d + t] * inv) }
                    }
                }
            }
        }
        return Result(centroids: centroids, iterations: iterations)
    }

    /// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniformly, each next one with probability
    /// proportional to its squared distance to the nearest centre chosen so far.
    static func seedPlusPlus(_ x: UnsafePointer<Float>, _ m: Int, _ d: Int, _ k: Int,
                             _ rng: inout SplitMix64) -> [Float] {
        var centroids = [Float]()
        centroids.reserveCapacity(k * d)
        let first = rng.below(m)
        centroids.append(contentsOf: UnsafeBufferPointer(start: x + first * d, count: d))
        var dist = [Float](repeating: 0, count: m)
        for i in 0..<m { dist[i] = Distance.l2Squared(x + i * d, x + first * d, d) }
        for _ in 1..<max(1, k) {
            var total = 0.0
            for i in 0..<m { total += Double(dist[i]) }
            var pick = -1
            if total > 0 && total.isFinite {
                let r = rng.unit() * total
                var acc = 0.0
                for i in 0..<m {
                    acc += Double(dist[i])
                    if acc > r && dist[i] > 0 { pick = i; break }
                }
                if pick < 0 {  // rounding at the end of the walk: the last point with weight
                    for i in stride(from: m - 1, through: 0, by: -1) where dist[i] > 0 { pick = i; break }
                }
            }
            if pick < 0 { pick = rng.below(m) }  // all points coincide with centres
            let c = x + pick * d
            centroids.append(contentsOf: UnsafeBufferPointer(start: c, count: d))
            for i in 0..<m {
                let s = Distance.l2Squared(x + i * d, c, d)
                if s < dist[i] { dist[i] = s }
            }
        }
        return centroids
    }

    /// Scales `v` to unit length in place (no-op for a zero vector).
    static func normalize(_ v: UnsafeMutablePointer<Float>, _ d: Int) {
        let inv = Distance.inverseNorm(v, d)
        guard inv > 0 else { return }
        for t in 0..<d { v[t] *= inv }
    }
}

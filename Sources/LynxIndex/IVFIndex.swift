/// Inverted-file index with uncompressed vectors (FAISS `IndexIVFFlat`): a k-means coarse quantizer splits the
/// vectors into clusters; a search ranks the centroids and scans only the `nProbe` nearest clusters' lists.
///
/// Life cycle:
/// - Untrained (fewer than `trainThreshold` vectors ever present at once): every vector lives in one list and a
///   search is an exact scan, bit-for-bit the same results as `FlatIndex`.
/// - The `upsert` that brings the count to `trainThreshold` trains the quantizer (k-means over the vectors present,
///   see `retrain()`); that one call pays the whole training cost, amortised over the `trainThreshold` inserts
///   before it. Later inserts go to the list of their nearest centroid; the centroids do not move.
/// - `retrain()` re-runs k-means over all current vectors (with `nClusters == 0`: √count clusters, recomputed)
///   and redistributes them. The engine exposes it as `POST /index/rebuild`.
///
/// Spilling (`spill == 1`, SOAR, Sun et al. 2023): once trained, every vector is stored twice — in the list of
/// its nearest centroid (its primary copy) and in one more list chosen by `SOAR.secondary` (its spilled copy).
/// A query near a cluster border then finds the vector in whichever of the two lists it probes, which raises
/// recall at a given nProbe; the price is twice the vector memory and longer lists. Each cluster keeps its
/// primary rows (`lists`) and its spilled rows (`spills`) apart, and every row records the list of the vector's
/// other copy (`partners`). A search never scores a vector twice: it skips a spilled row whose primary list is
/// probed too (see `IVFIndex+Search.swift`), so results keep exactly Flat's distances and tie order, and the
/// primary rows, which are never skipped, stream through the kernel without a check.
///
/// Metrics: `l2` clusters and probes by squared L2. `cosine` clusters the normalised directions (spherical k-means,
/// unit centroids) and probes by the largest q·c. `dot` clusters the raw vectors with inner-product assignment and
/// unit-length centroids (FAISS `METRIC_INNER_PRODUCT`, which turns on spherical clustering) and probes by the
/// largest q·c. Inside the lists every metric scores exactly as `FlatIndex` does (same kernels, same formula).
///
/// Storage per list (primary and spilled rows alike): contiguous row-major vectors as given, their ids, under
/// cosine their inverse norms, and the partner list of each row, so a probe is a tight kernel scan. Two id → (list, row) maps (primary copies, spilled
/// copies) serve replace and remove; remove moves the list's last row into the hole. Every list is its own array,
/// so a copy of the index is O(1) and a write after a copy duplicates only the array of list headers and the lists
/// it touches.
///
/// Search: see `IVFIndex+Search.swift`. Training: `IVFIndex+Training.swift`. Layout: `IVFIndex+Coding.swift`.
///
/// Concurrency: see `VectorIndex` (reads concurrent, writes exclusive, copies are snapshots).
public struct IVFIndex: VectorIndex {
    public static let magic: UInt32 = fourCC("LXIV")
    /// 2 added the spill setting and the per-row partner lists; version 1 blobs still load (as spill 0).
    public static let formatVersion: UInt32 = 2

    /// k-means settings (see docs/IVF.md).
    static let maxIterations = 20
    static let maxPointsPerCentroid = 256
    /// Default training threshold per configured cluster (FAISS warns below 39 training points per centroid).
    static let minPointsPerCentroid = 39
    static let defaultThreshold = 1000
    /// Spill of a new index unless told otherwise (measured on the dev set, docs/IVF.md).
    public static let defaultSpill = 1
    public static let maxSpill = 1

    public let dimension: Int
    public let metric: Metric
    /// Clusters requested at construction; 0 means √count at each training.
    public let configuredClusters: Int
    /// Extra lists each vector is stored in once trained: 0 (plain IVF-Flat) or 1 (SOAR spill).
    public let spill: Int
    /// Lists probed when `SearchParams.nProbe` is nil.
    public var defaultNProbe: Int
    public let seed: UInt64
    /// The vector count at which the first training happens automatically.
    public let trainThreshold: Int
    /// Whether a quantizer has been trained (false: one exact list).
    public internal(set) var isTrained = false
    /// Vectors present at the last training (0 before).
    public internal(set) var trainedCount = 0
    /// k-means assignment steps run at the last training.
    public internal(set) var trainingIterations = 0

    /// Trained: lists.count × dimension (unit rows under cosine/dot); untrained: empty.
    @usableFromInline var centroids: [Float] = []
    /// ‖cⱼ‖² per centroid (derived: recomputed on load, not serialized).
    @usableFromInline var centroidNorms: [Float] = []
    /// Primary copies: list j holds the vectors whose nearest centroid is j.
    @usableFromInline var lists: [InvertedList] = [InvertedList()]
    /// Spilled copies: list j holds the vectors spilled to centroid j (as many lists as `lists`; empty with spill 0).
    @usableFromInline var spills: [InvertedList] = [InvertedList()]
    /// id → list << 32 | row of its primary copy (one entry per live vector)
    @usableFromInline var location: [UInt64: UInt64] = [:]
    /// id → list << 32 | row of its spilled copy (only vectors that have one)
    @usableFromInline var spillLocation: [UInt64: UInt64] = [:]

    /// Which of a vector's copies a row is.
    enum Copy { case primary, spilled }

    /// Lists are numbered below this (it also bounds `nClusters`).
    static let maxLists = Int(Int32.max)

    /// One cluster's rows.
    @usableFromInline
    struct InvertedList: Sendable {
        @usableFromInline var data: [Float] = []      // count × dimension
        @usableFromInline var ids: [UInt64] = []       // row → id
        @usableFromInline var invNorms: [Float] = []   // row → 1/‖v‖ (cosine only)
        /// row → list of the vector's other copy: a primary row's spilled list (its own list when it has none), a
        /// spilled row's primary list
        @usableFromInline var partners: [UInt32] = []
        @usableFromInline init() {}
        var count: Int { ids.count }
    }

    /// - Parameters:
    ///   - nClusters: number of k-means clusters (lists); 0 = round(√n) at training time. Always clamped to n.
    ///   - defaultNProbe: lists scanned per search unless `SearchParams.nProbe` says otherwise.
    ///   - seed: seeds the k-means sample and k-means++ (training is deterministic).
    ///   - trainThreshold: vector count that triggers the first training; default max(39·nClusters, 1000)
    ///     when nClusters > 0, else 1000.
    ///   - spill: 0 = each vector in one list; 1 = also in a second list chosen by the SOAR loss (2× vector memory).
    public init(dimension: Int, metric: Metric, nClusters: Int = IndexParameter.clusters.defaultValue,
                defaultNProbe: Int = SearchParameter.nProbe.defaultValue, seed: UInt64 = 42,
                trainThreshold: Int? = nil, spill: Int = IVFIndex.defaultSpill) {
        precondition(dimension > 0, "dimension must be positive")
        precondition(nClusters >= 0 && nClusters < IVFIndex.maxLists, "nClusters out of range")
        precondition(defaultNProbe >= 1, "defaultNProbe must be at least 1")
        precondition((trainThreshold ?? 1) >= 1, "trainThreshold must be at least 1")
        precondition((0...IVFIndex.maxSpill).contains(spill), "spill must be 0 or 1")
        self.dimension = dimension
        self.metric = metric
        self.configuredClusters = nClusters
        self.spill = spill
        self.defaultNProbe = defaultNProbe
        self.seed = seed
        self.trainThreshold = trainThreshold
            ?? (nClusters > 0 ? max(IVFIndex.minPointsPerCentroid * nClusters, IVFIndex.defaultThreshold)
                              : IVFIndex.defaultThreshold)
    }

    public var count: Int { location.count }

    /// Number of trained clusters (0 before training).
    public var clusterCount: Int { isTrained ? lists.count : 0 }

    /// Rows per list, spilled copies included (one entry before training).
    public var listSizes: [Int] { zip(lists, spills).map { $0.count + $1.count } }

    /// Vectors stored a second time (0 with spill 0 or before training); the lists hold `count + spilledCount` rows.
    public var spilledCount: Int { spillLocation.count }

    public func contains(_ id: UInt64) -> Bool { location[id] != nil }

    public func forEachID(_ body: (UInt64) -> Void) { location.keys.forEach(body) }

    public func vector(_ id: UInt64) -> [Float]? {
        guard let loc = location[id] else { return nil }
        let (c, r) = IVFIndex.unpack(loc)
        let start = r * dimension
        return Array(lists[c].data[start..<start + dimension])
    }

    @inline(__always) static func pack(_ list: Int, _ row: Int) -> UInt64 { UInt64(list) << 32 | UInt64(row) }
    @inline(__always) static func unpack(_ v: UInt64) -> (Int, Int) { (Int(v >> 32), Int(v & 0xFFFF_FFFF)) }

    var geometry: KMeans.Geometry { metric == .l2 ? .euclidean : .spherical }

    /// The lists a vector belongs to: its nearest centroid's, and the SOAR list of its spilled copy (-1: none).
    /// `inv` is 1/‖v‖ under cosine (the clustering sees v/‖v‖), ignored otherwise. Untrained: (0, -1).
    func placement(_ v: UnsafePointer<Float>, inv: Float) -> (primary: Int, secondary: Int) {
        guard isTrained else { return (0, -1) }
        let k = centroidNorms.count, d = dimension, g = geometry
        let wantsSpill = spill > 0 && k > 1
        let scale: Float = metric == .cosine ? inv : 1
        return centroids.withUnsafeBufferPointer { cb in
            centroidNorms.withUnsafeBufferPointer { nb in
                let p = KMeans.nearest(g, v, cb.baseAddress!, nb.baseAddress!, k, d).index
                guard wantsSpill else { return (p, -1) }
                return (p, SOAR.secondary(v, scale: scale, primary: p, centroids: cb.baseAddress!,
                                          norms: nb.baseAddress!, k: k, d: d, lambda: SOAR.lambda))
            }
        }
    }

    public mutating func upsert(id: UInt64, vector: UnsafeBufferPointer<Float>) {
        precondition(vector.count == dimension, "dimension mismatch")
        let v = vector.baseAddress!
        let cosine = metric == .cosine
        let inv: Float = cosine ? Distance.inverseNorm(v, dimension) : 0
        precondition(!cosine || inv > 0, "zero vector under cosine")
        let (target, second) = placement(v, inv: inv)
        if let loc = location[id] {
            let (c, r) = IVFIndex.unpack(loc)
            let spilled = spillLocation[id].map(IVFIndex.unpack)
            if c == target && (spilled?.0 ?? -1) == second {  // same lists: replace both copies in place
                overwrite(.primary, list: c, row: r, v, inv)
                if let (sc, sr) = spilled { overwrite(.spilled, list: sc, row: sr, v, inv) }
                return
            }
            removeCopies(id)
        }
        let row = append(.primary, list: target, id: id, vector, inv, partner: second >= 0 ? second : target)
        location[id] = IVFIndex.pack(target, row)
        if second >= 0 {
            let srow = append(.spilled, list: second, id: id, vector, inv, partner: target)
            spillLocation[id] = IVFIndex.pack(second, srow)
        }
        if !isTrained && location.count >= trainThreshold { retrain() }
    }

    @discardableResult
    public mutating func remove(_ id: UInt64) -> Bool {
        guard location[id] != nil else { return false }
        removeCopies(id)
        return true
    }

    /// Drops both copies of a present `id` and its map entries.
    mutating func removeCopies(_ id: UInt64) {
        if let loc = location.removeValue(forKey: id) {
            let (c, r) = IVFIndex.unpack(loc)
            removeRow(.primary, list: c, row: r)
        }
        if let loc = spillLocation.removeValue(forKey: id) {
            let (c, r) = IVFIndex.unpack(loc)
            removeRow(.spilled, list: c, row: r)
        }
    }

    /// Runs `body` on the primary or the spilled lists, in place.
    @inline(__always)
    mutating func withLists<R>(_ which: Copy, _ body: (inout [InvertedList]) -> R) -> R {
        switch which {
        case .primary: return body(&lists)
        case .spilled: return body(&spills)
        }
    }

    /// Appends a row to list `c` of `which`; returns its row number.
    mutating func append(_ which: Copy, list c: Int, id: UInt64, _ vector: UnsafeBufferPointer<Float>, _ inv: Float,
                         partner: Int) -> Int {
        let cosine = metric == .cosine
        return withLists(which) { ls in
            let row = ls[c].count
            precondition(row < Int(UInt32.max), "IVFIndex lists are limited to 2^32 - 1 vectors")
            ls[c].ids.append(id)
            ls[c].data.append(contentsOf: vector)
            if cosine { ls[c].invNorms.append(inv) }
            ls[c].partners.append(UInt32(partner))
            return row
        }
    }

    /// Overwrites the vector of row `r` in list `c` of `which`.
    mutating func overwrite(_ which: Copy, list c: Int, row r: Int, _ v: UnsafePointer<Float>, _ inv: Float) {
        let dim = dimension, cosine = metric == .cosine
        withLists(which) { ls in
            ls[c].data.withUnsafeMutableBufferPointer { d in (d.baseAddress! + r * dim).update(from: v, count: dim) }
            if cosine { ls[c].invNorms[r] = inv }
        }
    }

    /// Removes row `r` of list `c` of `which` by moving the list's last row into it (the caller has dropped the
    /// removed copy's map entry). The moved row keeps its partner: partners name lists, not rows.
    mutating func removeRow(_ which: Copy, list c: Int, row r: Int) {
        let dim = dimension, cosine = metric == .cosine
        let moved: UInt64? = withLists(which) { ls in
            let last = ls[c].count - 1
            var moved: UInt64?
            if r != last {
                moved = ls[c].ids[last]
                ls[c].ids[r] = ls[c].ids[last]
                ls[c].partners[r] = ls[c].partners[last]
                ls[c].data.withUnsafeMutableBufferPointer { d in
                    let base = d.baseAddress!
                    (base + r * dim).update(from: base + last * dim, count: dim)
                }
                if cosine { ls[c].invNorms[r] = ls[c].invNorms[last] }
            }
            ls[c].ids.removeLast()
            ls[c].partners.removeLast()
            ls[c].data.removeLast(dim)
            if cosine { ls[c].invNorms.removeLast() }
            return moved
        }
        if let moved {
            switch which {
            case .primary: location[moved] = IVFIndex.pack(c, r)
            case .spilled: spillLocation[moved] = IVFIndex.pack(c, r)
            }
        }
    }

    /// Capacity-based: `vectorBytes` counts every stored row, so spilled copies are counted twice (they are).
    public var memory: IndexMemory {
        var vectorBytes = 0
        var indexBytes = centroids.capacity * 4 + centroidNorms.capacity * 4
            + lists.capacity * MemoryLayout<InvertedList>.stride
            + dictionaryBytes(capacity: location.capacity, keyBytes: 8, valueBytes: 8)
            + (spillLocation.capacity > 0 ? dictionaryBytes(capacity: spillLocation.capacity, keyBytes: 8, valueBytes: 8) : 0)
        indexBytes += spills.capacity * MemoryLayout<InvertedList>.stride
        for l in lists + spills {
            vectorBytes += l.data.capacity * 4 + l.invNorms.capacity * 4
            indexBytes += l.ids.capacity * 8 + l.partners.capacity * 4
            // array headers (32 bytes each on 64-bit) of the non-empty arrays
            indexBytes += (l.data.capacity > 0 ? 32 : 0) + (l.ids.capacity > 0 ? 32 : 0)
                + (l.invNorms.capacity > 0 ? 32 : 0) + (l.partners.capacity > 0 ? 32 : 0)
        }
        return IndexMemory(vectorBytes: vectorBytes, indexBytes: indexBytes)
    }

    public var parameters: [(String, String)] {
        [(IndexParameter.clusters.key, String(clusterCount)),
         ("n_clusters_configured", String(configuredClusters)),
         (SearchParameter.nProbe.key, String(defaultNProbe)),
         (IndexParameter.spill.key, String(spill)),
         ("spilled_count", String(spilledCount)),
         ("trained", isTrained ? "true" : "false"),
         ("train_threshold", String(trainThreshold)),
         ("trained_count", String(trainedCount))]
    }
}

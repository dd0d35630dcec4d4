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
/// Metrics: `l2` clusters and probes by squared L2. `cosine` clusters the normalised directions (spherical k-means,
/// unit centroids) and probes by the largest q·c. `dot` clusters the raw vectors with inner-product assignment and
/// unit-length centroids (FAISS `METRIC_INNER_PRODUCT`, which turns on spherical clustering) and probes by the
/// largest q·c. Inside the lists every metric scores exactly as `FlatIndex` does (same kernels, same formula).
///
/// Storage per list: contiguous row-major vectors as given, their ids and, under cosine, their inverse norms, so a
/// probe is a tight kernel scan. An id → (list, row) map serves replace and remove; remove moves the list's last
/// row into the hole. Every list is its own array, so a copy of the index is O(1) and a write after a copy
/// duplicates only the array of list headers and the list it touches.
///
/// Search: `params.nProbe` (default `defaultNProbe`, clamped to 1…lists) nearest lists are scanned with a bounded
/// top-k heap; the filter runs during the scan (only on rows that would enter the heap). If the probed lists
/// hold fewer than `k` accepted rows, further lists are scanned in centroid order until `k` are found or every list
/// has been scanned — so a filtered search returns `k` hits whenever `k` matching vectors exist (FAISS would
/// return fewer). Ties are broken by the lower id.
///
/// Concurrency: see `VectorIndex` (reads concurrent, writes exclusive, copies are snapshots).
public struct IVFIndex: VectorIndex {
    public static let magic: UInt32 = fourCC("LXIV")
    public static let formatVersion: UInt32 = 1

    /// k-means settings (see docs/IVF.md).
    static let maxIterations = 20
    static let maxPointsPerCentroid = 256
    /// Default training threshold per configured cluster (FAISS warns below 39 training points per centroid).
    static let minPointsPerCentroid = 39
    static let defaultThreshold = 1000

    public let dimension: Int
    public let metric: Metric
    /// Clusters requested at construction; 0 means √count at each training.
    public let configuredClusters: Int
    /// Lists probed when `SearchParams.nProbe` is nil.
    public var defaultNProbe: Int
    public let seed: UInt64
    /// The vector count at which the first training happens automatically.
    public let trainThreshold: Int
    /// Whether a quantizer has been trained (false: one exact list).
    public private(set) var isTrained = false
    /// Vectors present at the last training (0 before).
    public private(set) var trainedCount = 0
    /// k-means assignment steps run at the last training.
    public private(set) var trainingIterations = 0

    /// Trained: lists.count × dimension (unit rows under cosine/dot); untrained: empty.
    @usableFromInline var centroids: [Float] = []
    /// ‖cⱼ‖² per centroid (derived: recomputed on load, not serialized).
    @usableFromInline var centroidNorms: [Float] = []
    @usableFromInline var lists: [InvertedList] = [InvertedList()]
    /// id → list << 32 | row
    @usableFromInline var location: [UInt64: UInt64] = [:]

    /// One cluster's vectors.
    @usableFromInline
    struct InvertedList: Sendable {
        @usableFromInline var data: [Float] = []      // count × dimension
        @usableFromInline var ids: [UInt64] = []       // row → id
        @usableFromInline var invNorms: [Float] = []   // row → 1/‖v‖ (cosine only)
        @usableFromInline init() {}
        var count: Int { ids.count }
    }

    /// - Parameters:
    ///   - nClusters: number of k-means clusters (lists); 0 = round(√n) at training time. Always clamped to n.
    ///   - defaultNProbe: lists scanned per search unless `SearchParams.nProbe` says otherwise.
    ///   - seed: seeds the k-means sample and k-means++ (training is deterministic).
    ///   - trainThreshold: vector count that triggers the first training; default max(39·nClusters, 1000)
    ///     when nClusters > 0, else 1000.
    public init(dimension: Int, metric: Metric, nClusters: Int = 0, defaultNProbe: Int = 16, seed: UInt64 = 42,
                trainThreshold: Int? = nil) {
        precondition(dimension > 0, "dimension must be positive")
        precondition(nClusters >= 0 && nClusters < Int(UInt32.max), "nClusters out of range")
        precondition(defaultNProbe >= 1, "defaultNProbe must be at least 1")
        precondition((trainThreshold ?? 1) >= 1, "trainThreshold must be at least 1")
        self.dimension = dimension
        self.metric = metric
        self.configuredClusters = nClusters
        self.defaultNProbe = defaultNProbe
        self.seed = seed
        self.trainThreshold = trainThreshold
            ?? (nClusters > 0 ? max(IVFIndex.minPointsPerCentroid * nClusters, IVFIndex.defaultThreshold)
                              : IVFIndex.defaultThreshold)
    }

    public var count: Int { location.count }

    /// Number of trained clusters (0 before training).
    public var clusterCount: Int { isTrained ? lists.count : 0 }

    /// Vectors per list (one entry before training).
    public var listSizes: [Int] { lists.map(\.count) }

    public func contains(_ id: UInt64) -> Bool { location[id] != nil }

    public func vector(_ id: UInt64) -> [Float]? {
        guard let loc = location[id] else { return nil }
        let (c, r) = IVFIndex.unpack(loc)
        let start = r * dimension
        return Array(lists[c].data[start..<start + dimension])
    }

    @inline(__always) static func pack(_ list: Int, _ row: Int) -> UInt64 { UInt64(list) << 32 | UInt64(row) }
    @inline(__always) static func unpack(_ v: UInt64) -> (Int, Int) { (Int(v >> 32), Int(v & 0xFFFF_FFFF)) }

    var geometry: KMeans.Geometry { metric == .l2 ? .euclidean : .spherical }

    /// The list a vector belongs to (0 before training).
    @inline(__always)
    func nearestList(_ v: UnsafePointer<Float>) -> Int {
        guard isTrained else { return 0 }
        let k = lists.count, d = dimension, g = geometry
        return centroids.withUnsafeBufferPointer { cb in
            centroidNorms.withUnsafeBufferPointer { nb in
                KMeans.nearest(g, v, cb.baseAddress!, nb.baseAddress!, k, d).index
            }
        }
    }

    public mutating func upsert(id: UInt64, vector: UnsafeBufferPointer<Float>) {
        precondition(vector.count == dimension, "dimension mismatch")
        let v = vector.baseAddress!
        let dim = dimension
        let cosine = metric == .cosine
        let inv: Float = cosine ? Distance.inverseNorm(v, dim) : 0
        precondition(!cosine || inv > 0, "zero vector under cosine")
        let target = nearestList(v)
        if let loc = location[id] {
            let (c, r) = IVFIndex.unpack(loc)
            if c == target {  // replace in place
                lists[c].data.withUnsafeMutableBufferPointer { d in
                    (d.baseAddress! + r * dim).update(from: v, count: dim)
                }
                if cosine { lists[c].invNorms[r] = inv }
                return
            }
            removeRow(list: c, row: r)
        }
        let row = lists[target].count
        precondition(row < Int(UInt32.max), "IVFIndex lists are limited to 2^32 - 1 vectors")
        lists[target].ids.append(id)
        lists[target].data.append(contentsOf: vector)
        if cosine { lists[target].invNorms.append(inv) }
        location[id] = IVFIndex.pack(target, row)
        if !isTrained && location.count >= trainThreshold { retrain() }
    }

    @discardableResult
    public mutating func remove(_ id: UInt64) -> Bool {
        guard let loc = location.removeValue(forKey: id) else { return false }
        let (c, r) = IVFIndex.unpack(loc)
        removeRow(list: c, row: r)
        return true
    }

    /// Removes row `r` of list `c` by moving the last row into it (the caller has dropped or will overwrite the
    /// removed id's map entry).
    mutating func removeRow(list c: Int, row r: Int) {
        let last = lists[c].count - 1
        let dim = dimension, cosine = metric == .cosine
        if r != last {
            let moved = lists[c].ids[last]
            lists[c].ids[r] = moved
            location[moved] = IVFIndex.pack(c, r)
            lists[c].data.withUnsafeMutableBufferPointer { d in
                let base = d.baseAddress!
                (base + r * dim).update(from: base + last * dim, count: dim)
            }
            if cosine { lists[c].invNorms[r] = lists[c].invNorms[last] }
        }
        lists[c].ids.removeLast()
        lists[c].data.removeLast(dim)
        if cosine { lists[c].invNorms.removeLast() }
    }

    /// Re-runs k-means over all current vectors and redistributes them into new lists (ids ascending within a
    /// list). Clusters: `configuredClusters`, or round(√count) when it is 0, clamped to the count. Training uses a
    /// sample of at most 256 points per cluster, drawn with the index's seed from the vectors in id order, so the
    /// result depends only on the contents (not on the insertion history). With fewer than `trainThreshold`
    /// vectors the index returns to the untrained state (one exact list). Cost: O(sample · clusters · d ·
    /// iterations) for k-means plus O(n · clusters · d) to reassign; peak memory briefly holds the old and the
    /// new lists.
    public mutating func retrain() {
        let n = count, dim = dimension
        let cosine = metric == .cosine
        // every vector's place, ids ascending
        var refs: [(id: UInt64, loc: UInt64)] = []
        refs.reserveCapacity(n)
        for (id, loc) in location { refs.append((id, loc)) }
        refs.sort { $0.id < $1.id }

        guard n > 0, n >= trainThreshold else {
            // back to (or stay in) the untrained state: one exact list
            var one = InvertedList()
            one.ids.reserveCapacity(n)
            one.data.reserveCapacity(n * dim)
            if cosine { one.invNorms.reserveCapacity(n) }
            var newLocation: [UInt64: UInt64] = [:]
            newLocation.reserveCapacity(n)
            for (i, ref) in refs.enumerated() {
                let (c, r) = IVFIndex.unpack(ref.loc)
                one.ids.append(ref.id)
                one.data.append(contentsOf: lists[c].data[(r * dim)..<((r + 1) * dim)])
                if cosine { one.invNorms.append(lists[c].invNorms[r]) }
                newLocation[ref.id] = IVFIndex.pack(0, i)
            }
            lists = [one]
            location = newLocation
            centroids = []
            centroidNorms = []
            isTrained = false
            trainedCount = 0
            trainingIterations = 0
            return
        }

        let wanted = configuredClusters > 0 ? configuredClusters : Int(Double(n).squareRoot().rounded())
        let k = max(1, min(wanted, n))
        var rng = KMeans.Random(seed: seed)
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

        // reassign every vector to its nearest new centroid
        let g = geometry
        let norms = KMeans.squaredNorms(result.centroids, k, dim)
        var assign = [Int32](repeating: 0, count: n)
        var sizes = [Int](repeating: 0, count: k)
        result.centroids.withUnsafeBufferPointer { cb in
            norms.withUnsafeBufferPointer { nb in
                let cents = cb.baseAddress!, cn = nb.baseAddress!
                for (i, ref) in refs.enumerated() {
                    let (c, r) = IVFIndex.unpack(ref.loc)
                    let j = lists[c].data.withUnsafeBufferPointer { d in
                        KMeans.nearest(g, d.baseAddress! + r * dim, cents, cn, k, dim).index
                    }
                    assign[i] = Int32(j)
                    sizes[j] += 1
                }
            }
        }
        var newLists = [InvertedList](repeating: InvertedList(), count: k)
        for j in 0..<k {
            newLists[j].ids.reserveCapacity(sizes[j])
            newLists[j].data.reserveCapacity(sizes[j] * dim)
            if cosine { newLists[j].invNorms.reserveCapacity(sizes[j]) }
        }
        var newLocation: [UInt64: UInt64] = [:]
        newLocation.reserveCapacity(n)
        for (i, ref) in refs.enumerated() {
            let (c, r) = IVFIndex.unpack(ref.loc)
            let j = Int(assign[i])
            precondition(newLists[j].count < Int(UInt32.max), "IVFIndex lists are limited to 2^32 - 1 vectors")
            newLocation[ref.id] = IVFIndex.pack(j, newLists[j].count)
            newLists[j].ids.append(ref.id)
            newLists[j].data.append(contentsOf: lists[c].data[(r * dim)..<((r + 1) * dim)])
            if cosine { newLists[j].invNorms.append(lists[c].invNorms[r]) }
        }
        lists = newLists
        location = newLocation
        centroids = result.centroids
        centroidNorms = norms
        isTrained = true
        trainedCount = n
        trainingIterations = result.iterations
    }

    public func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [SearchHit] {
        precondition(query.count == dimension, "dimension mismatch")
        let n = count
        guard k > 0, n > 0, let q = query.baseAddress else { return [] }
        var qInv: Float = 1
        if metric == .cosine {
            qInv = Distance.inverseNorm(q, dimension)
            if qInv == 0 { return [] }
        }
        var top = TopK(k: min(k, n))
        let nLists = lists.count
        let nProbe = max(1, min(params.nProbe ?? defaultNProbe, nLists))
        if !isTrained || nProbe >= nLists {
            for c in 0..<nLists { scan(c, q, qInv, &top, filter) }
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
        for p in probed { scan(Int(p.id), q, qInv, &top, filter) }
        if !top.isFull {
            // too few (accepted) rows in the probed lists: continue in centroid order until k are found
            var rest: [(score: Float, list: Int)] = []
            var wasProbed = [Bool](repeating: false, count: nLists)
            for p in probed { wasProbed[Int(p.id)] = true }
            for j in 0..<nLists where !wasProbed[j] { rest.append((cscores[j], j)) }
            rest.sort { $0.score < $1.score || ($0.score == $1.score && $0.list < $1.list) }
            for r in rest {
                scan(r.list, q, qInv, &top, filter)
                if top.isFull { break }
            }
        }
        return top.hits(metric: metric)
    }

    /// Scores every row of list `c` against `q` (exactly as `FlatIndex` does) into `top`.
    @inline(__always)
    func scan(_ c: Int, _ q: UnsafePointer<Float>, _ qInv: Float, _ top: inout TopK,
              _ filter: ((UInt64) -> Bool)?) {
        let list = lists[c]
        let n = list.count
        guard n > 0 else { return }
        let dim = dimension
        list.data.withUnsafeBufferPointer { dbuf in
            list.ids.withUnsafeBufferPointer { idbuf in
                let base = dbuf.baseAddress!
                switch metric {
                case .l2:
                    IVFIndex.scanRows(n, base, dim, idbuf, &top, filter) { row, _ in Distance.l2Squared(q, row, dim) }
                case .dot:
                    IVFIndex.scanRows(n, base, dim, idbuf, &top, filter) { row, _ in -Distance.dot(q, row, dim) }
                case .cosine:
                    list.invNorms.withUnsafeBufferPointer { inv in
                        IVFIndex.scanRows(n, base, dim, idbuf, &top, filter) { row, r in
                            1 - Distance.dot(q, row, dim) * qInv * inv[r]
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func scanRows(_ n: Int, _ base: UnsafePointer<Float>, _ dim: Int, _ ids: UnsafeBufferPointer<UInt64>,
                         _ top: inout TopK, _ filter: ((UInt64) -> Bool)?,
                         _ score: (UnsafePointer<Float>, Int) -> Float) {
        var row = base
        for r in 0..<n {
            let s = score(row, r)
            row += dim
            let id = ids[r]
            if !top.wouldAccept(score: s, id: id) { continue }
            if let f = filter, !f(id) { continue }
            top.push(score: s, id: id)
        }
    }

    public var memory: IndexMemory {
        var vectorBytes = 0
        var indexBytes = centroids.capacity * 4 + centroidNorms.capacity * 4 + lists.capacity * MemoryLayout<InvertedList>.stride
            + dictionaryBytes(capacity: location.capacity, keyBytes: 8, valueBytes: 8)
        for l in lists {
            vectorBytes += l.data.capacity * 4 + l.invNorms.capacity * 4
            indexBytes += l.ids.capacity * 8
            // array headers (32 bytes each on 64-bit) of the non-empty arrays
            indexBytes += (l.data.capacity > 0 ? 32 : 0) + (l.ids.capacity > 0 ? 32 : 0)
                + (l.invNorms.capacity > 0 ? 32 : 0)
        }
        return IndexMemory(vectorBytes: vectorBytes, indexBytes: indexBytes)
    }

    public var parameters: [(String, String)] {
        [("n_clusters", String(clusterCount)),
         ("n_clusters_configured", String(configuredClusters)),
         ("n_probe", String(defaultNProbe)),
         ("trained", isTrained ? "true" : "false"),
         ("train_threshold", String(trainThreshold)),
         ("trained_count", String(trainedCount))]
    }

    /// Layout (little-endian), see docs/IVF.md: magic "LXIV" u32, version u32, dimension u32, metric u8,
    /// configured clusters u32, default nProbe u32, seed u64, train threshold u64, trained u8, trained count u64,
    /// k-means iterations u32, lists L u32, count n u64, centroids f32×(L·d, trained only), list sizes u64×L, then per
    /// list: ids u64×size, vectors f32×(size·d), [cosine] inverse norms f32×size.
    public func serialize(into w: inout BinaryWriter) {
        let n = count
        w.reserveCapacity(w.bytes.count + 80 + centroids.count * 4 + lists.count * 8 + n * 8 + n * dimension * 4
                          + (metric == .cosine ? n * 4 : 0))
        w.writeIndexHeader(magic: IVFIndex.magic, version: IVFIndex.formatVersion, dimension: dimension, metric: metric)
        w.write(UInt32(configuredClusters))
        w.write(UInt32(clamping: defaultNProbe))
        w.write(seed)
        w.write(UInt64(trainThreshold))
        w.write(UInt8(isTrained ? 1 : 0))
        w.write(UInt64(trainedCount))
        w.write(UInt32(clamping: trainingIterations))
        w.write(UInt32(lists.count))
        w.write(UInt64(n))
        if isTrained { w.write(contentsOf: centroids) }
        for l in lists { w.write(UInt64(l.count)) }
        for l in lists {
            w.write(contentsOf: l.ids)
            w.write(contentsOf: l.data)
            if metric == .cosine { w.write(contentsOf: l.invNorms) }
        }
    }

    public init(from r: inout BinaryReader) throws {
        let (dim, metric) = try r.readIndexHeader(magic: IVFIndex.magic, version: IVFIndex.formatVersion, kind: "ivf")
        guard dim > 0 else { throw IndexDecodingError.corrupt("dimension 0") }
        let configured = Int(try r.readUInt32())
        guard configured < Int(UInt32.max) else { throw IndexDecodingError.corrupt("n_clusters \(configured)") }
        let nProbe = Int(try r.readUInt32())
        guard nProbe >= 1 else { throw IndexDecodingError.corrupt("n_probe 0") }
        let seed = try r.readUInt64()
        let threshold64 = try r.readUInt64()
        guard threshold64 >= 1, threshold64 <= UInt64(Int.max) else {
            throw IndexDecodingError.corrupt("train threshold \(threshold64)")
        }
        let trainedByte = try r.readUInt8()
        guard trainedByte <= 1 else { throw IndexDecodingError.corrupt("trained flag \(trainedByte)") }
        let trainedCount64 = try r.readUInt64()
        guard trainedCount64 <= UInt64(Int.max) else { throw IndexDecodingError.corrupt("trained count") }
        let iterations = Int(try r.readUInt32())
        let nLists = Int(try r.readUInt32())
        let n64 = try r.readUInt64()
        guard n64 <= UInt64(Int.max / 2) else { throw IndexDecodingError.corrupt("count \(n64)") }
        let n = Int(n64)
        let trained = trainedByte == 1
        guard nLists >= 1, trained || nLists == 1 else { throw IndexDecodingError.corrupt("\(nLists) lists") }
        self.init(dimension: dim, metric: metric, nClusters: configured, defaultNProbe: nProbe, seed: seed,
                  trainThreshold: Int(threshold64))
        isTrained = trained
        trainedCount = Int(trainedCount64)
        trainingIterations = iterations
        if trained {
            let (cells, overflow) = nLists.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw IndexDecodingError.corrupt("lists × dimension overflows") }
            centroids = try r.readFloats(count: cells)
            guard centroids.allSatisfy({ $0.isFinite }) else { throw IndexDecodingError.corrupt("centroid not finite") }
            centroidNorms = KMeans.squaredNorms(centroids, nLists, dim)
        }
        let sizes64 = try r.readUInt64s(count: nLists)
        var total: UInt64 = 0
        for s in sizes64 {
            guard s < UInt64(UInt32.max) else { throw IndexDecodingError.corrupt("list size \(s)") }
            total += s
            guard total <= n64 else { throw IndexDecodingError.corrupt("list sizes exceed count \(n)") }
        }
        guard total == n64 else { throw IndexDecodingError.corrupt("list sizes sum to \(total), count \(n)") }
        var newLists = [InvertedList]()
        newLists.reserveCapacity(nLists)
        location.reserveCapacity(n)
        for (c, s64) in sizes64.enumerated() {
            let s = Int(s64)
            var l = InvertedList()
            l.ids = try r.readUInt64s(count: s)
            let (cells, overflow) = s.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw IndexDecodingError.corrupt("size × dimension overflows") }
            l.data = try r.readFloats(count: cells)
            if metric == .cosine { l.invNorms = try r.readFloats(count: s) }
            for (row, id) in l.ids.enumerated() {
                if location.updateValue(IVFIndex.pack(c, row), forKey: id) != nil {
                    throw IndexDecodingError.corrupt("duplicate id \(id)")
                }
            }
            newLists.append(l)
        }
        lists = newLists
    }
}

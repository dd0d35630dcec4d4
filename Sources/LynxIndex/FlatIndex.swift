import LynxSupport

/// Exact (brute-force) index: a row-major matrix of the vectors as given (in 1,024-row chunks, see `ChunkedRows`),
/// their ids, an id → row map and, under cosine, each row's inverse norm. Remove moves the last row into the hole,
/// so rows stay dense.
///
/// Search scans every row with the SIMD kernel and keeps the best `k` in a bounded heap; the filter is applied
/// during the scan (only to rows whose score would enter the heap), so `k` results come back whenever `k`
/// matching vectors exist.
///
/// Concurrency: see `VectorIndex` (reads concurrent, writes exclusive); copies are O(1) copy-on-write snapshots.
public struct FlatIndex: VectorIndex {
    public static let magic: UInt32 = fourCC("LXFL")
    public static let formatVersion: UInt32 = 2

    public let dimension: Int
    public let metric: Metric
    @usableFromInline var data: ChunkedRows        // count rows of dimension floats
    @usableFromInline var ids: [UInt64] = []        // row → id
    @usableFromInline var invNorms: [Float] = []    // row → 1/‖v‖ (cosine only; empty otherwise)
    @usableFromInline var slotOf: [UInt64: Int32] = [:]

    public init(dimension: Int, metric: Metric) {
        precondition(dimension > 0, "dimension must be positive")
        self.dimension = dimension
        self.metric = metric
        data = ChunkedRows(width: dimension)
    }

    public var count: Int { ids.count }

    public func contains(_ id: UInt64) -> Bool { slotOf[id] != nil }

    public func forEachID(_ body: (UInt64) -> Void) { ids.forEach(body) }

    public func vector(_ id: UInt64) -> [Float]? {
        guard let s = slotOf[id] else { return nil }
        return Array(UnsafeBufferPointer(start: data.row(Int(s)), count: dimension))
    }

    public mutating func reserveCapacity(_ n: Int) {
        ids.reserveCapacity(n)
        if metric == .cosine { invNorms.reserveCapacity(n) }
        slotOf.reserveCapacity(n)
    }

    public mutating func upsert(id: UInt64, vector: UnsafeBufferPointer<Float>) {
        precondition(vector.count == dimension, "dimension mismatch")
        precondition(metric != .cosine || Distance.inverseNorm(vector.baseAddress!, dimension) > 0,
                     "zero vector under cosine")
        if let s = slotOf[id] {
            data.setRow(Int(s), from: vector.baseAddress!)
            if metric == .cosine { invNorms[Int(s)] = Distance.inverseNorm(vector.baseAddress!, dimension) }
            return
        }
        precondition(ids.count < Int(Int32.max), "FlatIndex is limited to 2^31 - 1 vectors")
        slotOf[id] = Int32(ids.count)
        ids.append(id)
        data.append(vector.baseAddress!)
        if metric == .cosine { invNorms.append(Distance.inverseNorm(vector.baseAddress!, dimension)) }
    }

    @discardableResult
    public mutating func remove(_ id: UInt64) -> Bool {
        guard let s32 = slotOf.removeValue(forKey: id) else { return false }
        let s = Int(s32), last = ids.count - 1
        if s != last {
            let movedId = ids[last]
            ids[s] = movedId
            slotOf[movedId] = s32
            data.copyRow(from: last, to: s)
            if metric == .cosine { invNorms[s] = invNorms[last] }
        }
        ids.removeLast()
        data.removeLast()
        if metric == .cosine { invNorms.removeLast() }
        return true
    }

    public func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [SearchHit] {
        precondition(query.count == dimension, "dimension mismatch")
        let n = ids.count
        guard k > 0, n > 0, let q = query.baseAddress, let qInv = metric.queryInverseNorm(q, dimension) else { return [] }
        var top = TopK(k: min(k, n))
        let dim = dimension, metric = self.metric
        ids.withUnsafeBufferPointer { idbuf in
            invNorms.withUnsafeBufferPointer { inv in
                data.forEachChunk { base, first, rows in
                    var row = base
                    for r in first..<(first + rows) {
                        let score: Float
                        switch metric {
                        case .l2: score = Distance.l2Squared(q, row, dim)
                        case .cosine: score = 1 - Distance.dot(q, row, dim) * qInv * inv[r]
                        case .dot: score = -Distance.dot(q, row, dim)
                        }
                        row += dim
                        let id = idbuf[r]
                        if !top.wouldAccept(score: score, id: id) { continue }
                        if let f = filter, !f(id) { continue }
                        top.push(score: score, id: id)
                    }
                }
            }
        }
        return top.hits(metric: metric)
    }

    public var memory: IndexMemory {
        IndexMemory(vectorBytes: data.allocatedBytes + invNorms.capacity * 4,
                    indexBytes: ids.capacity * 8 + dictionaryBytes(capacity: slotOf.capacity, keyBytes: 8, valueBytes: 4))
    }

    public var parameters: [(String, String)] { [] }

    /// Layout (little-endian), see docs/INDEXES.md:
    /// magic "LXFL" u32, version u32 (2), dimension u32, metric u8, count u64, ids u64×count,
    /// the vectors as a row block (`write(rows:)`: inline, or references to stored chunks), [cosine] inverse
    /// norms f32×count. Version 1 (read only) has the vectors as plain f32×(count·dimension).
    public func serialize(into w: inout BinaryWriter) {
        w.reserveCapacity(w.bytes.count + 32 + ids.count * 8 + data.count * dimension * 4 + invNorms.count * 4)
        w.writeIndexHeader(magic: FlatIndex.magic, version: FlatIndex.formatVersion, dimension: dimension, metric: metric)
        w.write(UInt64(ids.count))
        w.write(contentsOf: ids)
        w.write(rows: data)
        if metric == .cosine { w.write(contentsOf: invNorms) }
    }

    public init(from r: inout BinaryReader) throws {
        let (dim, metric, version) = try r.readIndexHeader(magic: FlatIndex.magic, versions: 1...FlatIndex.formatVersion, kind: "flat")
        guard dim > 0 else { throw BinaryDecodingError.corrupt("dimension 0") }
        let n64 = try r.readUInt64()
        guard n64 < UInt64(Int32.max) else { throw BinaryDecodingError.corrupt("count \(n64)") }
        let n = Int(n64)
        self.init(dimension: dim, metric: metric)
        ids = try r.readUInt64s(count: n)
        data = try r.readRows(width: dim, count: n, blockVersion: version >= 2)
        if metric == .cosine { invNorms = try r.readFloats(count: n) }
        slotOf.reserveCapacity(n)
        for (i, id) in ids.enumerated() {
            if slotOf.updateValue(Int32(i), forKey: id) != nil {
                throw BinaryDecodingError.corrupt("duplicate id \(id)")
            }
        }
    }
}


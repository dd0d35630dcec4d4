import LynxSupport

extension HNSWIndex {
    // MARK: - stats

    public var memory: IndexMemory {
        IndexMemory(
            vectorBytes: vectors.allocatedBytes + invNorms.capacity * 4,
            indexBytes: links0.capacity * 4 + upperLinks.capacity * 4 + upperStart.capacity * 4
                + ids.capacity * 8 + levels.capacity + states.capacity + freeSlots.capacity * 4
                + dictionaryBytes(capacity: slotOf.capacity, keyBytes: 8, valueBytes: 4),
            codeBytes: codes.cells.allocatedBytes + codeTerms.capacity * 4
                + ((rabitq?.rotation.capacity ?? 0) + (rabitq?.centroid.capacity ?? 0)) * 4,
            mappedBytes: vectors.mappedBytes)
    }

    public mutating func mapStoredVectors(using mapper: any RowChunkMapper) throws -> Int {
        try vectors.mapStoredChunks(using: mapper)
    }

    public var parameters: [(String, String)] {
        var list = [(IndexParameter.m.key, String(m)), (IndexParameter.efConstruction.key, String(efConstruction)), (SearchParameter.efSearch.key, String(efSearch)),
                    ("slots", String(slotCount)), ("tombstones", String(tombstoneCount)), ("free_slots", String(freeSlotCount))]
        if quantization != .none {
            list += [(Quantization.key, quantization.text), ("quantizer", hasCodes ? "fitted" : "not fitted"),
                     ("links_on", linkingOnCodes ? "codes" : "vectors")]
        }
        return list
    }

    // MARK: - serialization (layout in docs/INDEXES.md)

    public func serialize(into w: inout BinaryWriter) {
        let n = ids.count
        w.reserveCapacity(w.bytes.count + 96 + n * (8 + 1 + 1 + 4) + links0.count * 4 + upperLinks.count * 4
                          + freeSlots.count * 4 + vectors.count * dimension * 4 + invNorms.count * 4)
        w.writeIndexHeader(magic: HNSWIndex.magic, version: HNSWIndex.formatVersion, dimension: dimension, metric: metric)
        w.write(UInt32(m))
        w.write(UInt32(efConstruction))
        w.write(UInt32(efSearch))
        w.write(UInt8(seed == nil ? 0 : 1))
        w.write(seed ?? 0)
        w.write(rngState)
        w.write(entryPoint)
        w.write(UInt32(bitPattern: Int32(maxLevel)))
        w.write(UInt64(n))
        w.write(UInt64(upperLinks.count))
        w.write(UInt64(freeSlots.count))
        w.write(contentsOf: ids)
        w.write(contentsOf: levels)
        w.write(contentsOf: states.map(\.rawValue))
        w.write(contentsOf: upperStart)
        w.write(contentsOf: links0)
        w.write(contentsOf: upperLinks)
        w.write(contentsOf: freeSlots)
        w.write(rows: vectors)
        if metric == .cosine { w.write(contentsOf: invNorms) }
        switch quantization {
        case .none:
            w.write(UInt8(0))
        case .sq8:
            w.write(UInt8(1))
            w.write(UInt8(quantizer == nil ? 0 : 1))
            guard let quantizer else { return }
            w.write(contentsOf: quantizer.lower)
            w.write(contentsOf: quantizer.step)
            w.write(rows: codes.cells)
            if metric == .l2 { w.write(contentsOf: codeTerms) }
        case .rabitq(let bits):
            w.write(UInt8(2))
            w.write(UInt8(bits))
            w.write(UInt8(rabitq == nil ? 0 : 1))
            guard let rabitq else { return }
            w.write(contentsOf: rabitq.centroid)
            w.write(contentsOf: rabitq.rotation)
            w.write(rows: codes.cells)
        }
    }

    public init(from r: inout BinaryReader) throws {
        // Version 1 (read only) has the vectors as plain f32×(n·dimension) instead of a row block; version 3 knows
        // no rabitq.
        let (dim, metric, version) = try r.readIndexHeader(magic: HNSWIndex.magic, versions: 1...HNSWIndex.formatVersion, kind: "hnsw")
        let m = Int(try r.readUInt32())
        let efc = Int(try r.readUInt32())
        let efs = Int(try r.readUInt32())
        let hasSeed = try r.readUInt8()
        let seedValue = try r.readUInt64()
        guard dim > 0, m >= 2, m <= 2048, efc >= 1, efs >= 1, hasSeed <= 1 else {
            throw BinaryDecodingError.corrupt("bad hnsw header")
        }
        self.init(dimension: dim, metric: metric, m: m, efConstruction: efc, efSearch: efs,
                  seed: hasSeed == 1 ? seedValue : nil)
        rngState = try r.readUInt64()
        entryPoint = try r.readUInt32()
        maxLevel = Int(Int32(bitPattern: try r.readUInt32()))
        let n64 = try r.readUInt64(), up64 = try r.readUInt64(), free64 = try r.readUInt64()
        guard n64 < UInt64(UInt32.max - 1), up64 < UInt64(Int.max / 8), free64 <= n64 else {
            throw BinaryDecodingError.corrupt("bad hnsw counts")
        }
        let n = Int(n64), nUp = Int(up64)
        ids = try r.readUInt64s(count: n)
        levels = try r.readUInt8s(count: n)
        states = try r.readUInt8s(count: n).enumerated().map { s, byte in
            guard let state = SlotState(rawValue: byte) else { throw BinaryDecodingError.corrupt("bad level/flag at slot \(s)") }
            return state
        }
        upperStart = try r.readUInt32s(count: n)
        links0 = try r.readUInt32s(count: n * stride0)
        upperLinks = try r.readUInt32s(count: nUp)
        freeSlots = try r.readUInt32s(count: Int(free64))
        vectors = try r.readRows(width: dim, count: n, blockVersion: version >= 2, vectors: true)
        if metric == .cosine { invNorms = try r.readFloats(count: n) }
        if version >= 3 { try readCodes(&r, slots: n, version: version) }
        try validate()
    }

    /// The quantization part of formats 3 and 4: its type (and bits), whether fitted, then the quantizer and the
    /// codes (docs/INDEXES.md).
    private mutating func readCodes(_ r: inout BinaryReader, slots n: Int, version: UInt32) throws {
        switch try r.readUInt8() {
        case 0: return
        case 1: quantization = .sq8
        case 2 where version >= 4:
            let bits = Int(try r.readUInt8())
            guard RaBitQuantizer.bitRange.contains(bits), dimension <= RaBitQuantizer.maxDimension else {
                throw BinaryDecodingError.corrupt("bad rabitq bits \(bits)")
            }
            quantization = .rabitq(bits: bits)
            codes = CodeRows(width: HNSWIndex.codeWidth(dimension: dimension, quantization))
        case let other: throw BinaryDecodingError.corrupt("unknown hnsw quantization \(other)")
        }
        switch try r.readUInt8() {
        case 0: return
        case 1: break
        case let other: throw BinaryDecodingError.corrupt("bad hnsw quantizer flag \(other)")
        }
        if case .rabitq(let bits) = quantization {
            let centroid = try r.readFloats(count: dimension), rotation = try r.readFloats(count: dimension * dimension)
            guard centroid.allSatisfy(\.isFinite), rotation.allSatisfy(\.isFinite) else {
                throw BinaryDecodingError.corrupt("bad rabitq centroid or rotation")
            }
            rabitq = RaBitQuantizer(bits: bits, rotation: rotation, centroid: centroid)
            codes = CodeRows(width: codes.width, cells: try r.readRows(width: CodeRows.cellsPerRow(codes.width), count: n))
            for s in 0..<n {
                let raw = UnsafeRawPointer(codes.row(s))
                guard raw.load(as: Float.self).isFinite, raw.load(fromByteOffset: 4, as: Float.self).isFinite else {
                    throw BinaryDecodingError.corrupt("bad rabitq factors at slot \(s)")
                }
            }
            return
        }
        let lower = try r.readFloats(count: dimension), step = try r.readFloats(count: dimension)
        guard lower.allSatisfy(\.isFinite), step.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw BinaryDecodingError.corrupt("bad sq8 ranges")
        }
        quantizer = ScalarQuantizer(lower: lower, step: step)
        codes = CodeRows(width: dimension, cells: try r.readRows(width: CodeRows.cellsPerRow(dimension), count: n))
        if metric == .l2 { codeTerms = try r.readFloats(count: n) }
    }

    /// Structural checks after decoding, so a corrupt file cannot make search read out of bounds.
    mutating func validate() throws {
        let n = ids.count
        if entryPoint == HNSWIndex.none {
            guard maxLevel == -1, states.allSatisfy({ $0 == .free }) else {
                throw BinaryDecodingError.corrupt("graph without entry point")
            }
        } else {
            guard entryPoint < UInt32(n), maxLevel == Int(levels[Int(entryPoint)]),
                  states[Int(entryPoint)] != .free else {
                throw BinaryDecodingError.corrupt("bad entry point")
            }
        }
        for s in 0..<n {
            let lv = Int(levels[s])
            guard lv <= max(maxLevel, 0) || states[s] == .free else { throw BinaryDecodingError.corrupt("bad level/flag at slot \(s)") }
            let c0 = Int(links0[s * stride0])
            guard c0 <= maxM0 else { throw BinaryDecodingError.corrupt("bad link count at slot \(s)") }
            for i in 0..<c0 where links0[s * stride0 + 1 + i] >= UInt32(n) {
                throw BinaryDecodingError.corrupt("link out of range at slot \(s)")
            }
            if lv > 0 {
                let start = Int(upperStart[s])
                guard start + lv * strideUp <= upperLinks.count else { throw BinaryDecodingError.corrupt("bad upper block at slot \(s)") }
                for l in 0..<lv {
                    let off = start + l * strideUp
                    let c = Int(upperLinks[off])
                    guard c <= m else { throw BinaryDecodingError.corrupt("bad upper link count at slot \(s)") }
                    for i in 0..<c {
                        let t = upperLinks[off + 1 + i]
                        guard t < UInt32(n), Int(levels[Int(t)]) > l else {
                            throw BinaryDecodingError.corrupt("upper link out of range at slot \(s)")
                        }
                    }
                }
            }
            if states[s] == .tombstone { tombstones += 1 }
            if states[s] == .live {
                if slotOf.updateValue(UInt32(s), forKey: ids[s]) != nil {
                    throw BinaryDecodingError.corrupt("duplicate id \(ids[s])")
                }
            }
        }
        var seen = Set<UInt32>()
        for f in freeSlots {
            guard f < UInt32(n), states[Int(f)] == .free, seen.insert(f).inserted else {
                throw BinaryDecodingError.corrupt("bad free slot list")
            }
        }
        guard seen.count == n - slotOf.count - tombstones else { throw BinaryDecodingError.corrupt("free slot list incomplete") }
    }
}

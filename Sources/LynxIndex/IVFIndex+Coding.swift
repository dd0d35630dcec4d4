import LynxSupport

extension IVFIndex {
    /// Layout version 2 (little-endian), see docs/IVF.md: magic "LXIV" u32, version u32, dimension u32, metric u8,
    /// configured clusters u32, default nProbe u32, seed u64, train threshold u64, trained u8, trained count u64,
    /// k-means iterations u32, lists L u32, count n u64, spill u8, spilled copies S u64, centroids f32×(L·d, trained
    /// only), primary list sizes u64×L (sum n), spilled list sizes u64×L (sum S), then the L primary lists (ids
    /// u64×size, vectors f32×(size·d), [cosine] inverse norms f32×size), then the L spilled lists (the same, plus the
    /// primary list of each row u32×size).
    /// Version 1 (read only) is version 2 without spill, S, the spilled sizes and the spilled lists: it loads as
    /// spill 0.
    public func serialize(into w: inout BinaryWriter) {
        let n = count, spilled = spilledCount, rowBytes = 8 + dimension * 4 + (metric == .cosine ? 4 : 0)
        w.reserveCapacity(w.bytes.count + 80 + centroids.count * 4 + lists.count * 16 + n * rowBytes
                          + spilled * (rowBytes + 4))
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
        w.write(UInt8(spill))
        w.write(UInt64(spilled))
        if isTrained { w.write(contentsOf: centroids) }
        for l in lists { w.write(UInt64(l.count)) }
        for l in spills { w.write(UInt64(l.count)) }
        for l in lists { writeRows(l, into: &w) }
        for l in spills {
            writeRows(l, into: &w)
            w.write(contentsOf: l.partners)  // a primary row's partner is derived on load (its spilled copy's list)
        }
    }

    func writeRows(_ l: InvertedList, into w: inout BinaryWriter) {
        w.write(contentsOf: l.ids)
        w.write(contentsOf: l.data)
        if metric == .cosine { w.write(contentsOf: l.invNorms) }
    }

    public init(from r: inout BinaryReader) throws {
        let (dim, metric, version) = try r.readIndexHeader(magic: IVFIndex.magic, versions: 1...IVFIndex.formatVersion,
                                                           kind: "ivf")
        guard dim > 0 else { throw BinaryDecodingError.corrupt("dimension 0") }
        let configured = Int(try r.readUInt32())
        guard configured < IVFIndex.maxLists else { throw BinaryDecodingError.corrupt("n_clusters \(configured)") }
        let nProbe = Int(try r.readUInt32())
        guard nProbe >= 1 else { throw BinaryDecodingError.corrupt("n_probe 0") }
        let seed = try r.readUInt64()
        let threshold64 = try r.readUInt64()
        guard threshold64 >= 1, threshold64 <= UInt64(Int.max) else {
            throw BinaryDecodingError.corrupt("train threshold \(threshold64)")
        }
        let trainedByte = try r.readUInt8()
        guard trainedByte <= 1 else { throw BinaryDecodingError.corrupt("trained flag \(trainedByte)") }
        let trainedCount64 = try r.readUInt64()
        guard trainedCount64 <= UInt64(Int.max) else { throw BinaryDecodingError.corrupt("trained count") }
        let iterations = Int(try r.readUInt32())
        let nLists = Int(try r.readUInt32())
        let n64 = try r.readUInt64()
        guard n64 <= UInt64(Int.max / 2) else { throw BinaryDecodingError.corrupt("count \(n64)") }
        var spill = 0
        var spilled64: UInt64 = 0
        if version >= 2 {
            spill = Int(try r.readUInt8())
            guard spill <= IVFIndex.maxSpill else { throw BinaryDecodingError.corrupt("spill \(spill)") }
            spilled64 = try r.readUInt64()
            guard spilled64 <= n64, spill > 0 || spilled64 == 0 else {
                throw BinaryDecodingError.corrupt("\(spilled64) spilled copies of \(n64) vectors, spill \(spill)")
            }
        }
        let trained = trainedByte == 1
        guard nLists >= 1, nLists < IVFIndex.maxLists, trained || nLists == 1 else {
            throw BinaryDecodingError.corrupt("\(nLists) lists")
        }
        self.init(dimension: dim, metric: metric, nClusters: configured, defaultNProbe: nProbe, seed: seed,
                  trainThreshold: Int(threshold64), spill: spill)
        isTrained = trained
        trainedCount = Int(trainedCount64)
        trainingIterations = iterations
        if trained {
            let (cells, overflow) = nLists.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw BinaryDecodingError.corrupt("lists × dimension overflows") }
            centroids = try r.readFloats(count: cells)
            guard centroids.allSatisfy({ $0.isFinite }) else { throw BinaryDecodingError.corrupt("centroid not finite") }
            centroidNorms = KMeans.squaredNorms(centroids, nLists, dim)
        }
        let sizes = try IVFIndex.readSizes(&r, nLists, total: n64)
        let spillSizes = version >= 2 ? try IVFIndex.readSizes(&r, nLists, total: spilled64)
                                      : [Int](repeating: 0, count: nLists)
        location.reserveCapacity(Int(n64))
        lists = []
        for (c, s) in sizes.enumerated() {
            var l = try readRows(&r, s)
            l.partners = [UInt32](repeating: UInt32(c), count: s)
            for (row, id) in l.ids.enumerated() where location.updateValue(IVFIndex.pack(c, row), forKey: id) != nil {
                throw BinaryDecodingError.corrupt("duplicate id \(id)")
            }
            lists.append(l)
        }
        spills = []
        spillLocation.reserveCapacity(Int(spilled64))
        for (c, s) in spillSizes.enumerated() {
            var l = try readRows(&r, s)
            l.partners = try r.readUInt32s(count: s)
            for (row, id) in l.ids.enumerated() {
                // the primary copy exists, in the list this row names, which is not this one
                guard let p = location[id], case let (pc, pr) = IVFIndex.unpack(p), Int(l.partners[row]) == pc,
                      pc != c, Int(lists[pc].partners[pr]) == pc else {
                    throw BinaryDecodingError.corrupt("spilled row \(row) of list \(c) (id \(id)) has no matching primary copy")
                }
                lists[pc].partners[pr] = UInt32(c)
                spillLocation[id] = IVFIndex.pack(c, row)
            }
            spills.append(l)
        }
    }

    /// Reads L list sizes that must sum to `total`.
    static func readSizes(_ r: inout BinaryReader, _ nLists: Int, total: UInt64) throws -> [Int] {
        let sizes64 = try r.readUInt64s(count: nLists)
        var sum: UInt64 = 0
        for s in sizes64 {
            guard s < UInt64(UInt32.max) else { throw BinaryDecodingError.corrupt("list size \(s)") }
            sum += s
            guard sum <= total else { throw BinaryDecodingError.corrupt("list sizes exceed \(total)") }
        }
        guard sum == total else { throw BinaryDecodingError.corrupt("list sizes sum to \(sum), expected \(total)") }
        return sizes64.map { Int($0) }
    }

    /// Reads one list's ids, vectors and (cosine) inverse norms.
    func readRows(_ r: inout BinaryReader, _ s: Int) throws -> InvertedList {
        var l = InvertedList()
        l.ids = try r.readUInt64s(count: s)
        let (cells, overflow) = s.multipliedReportingOverflow(by: dimension)
        guard !overflow else { throw BinaryDecodingError.corrupt("size × dimension overflows") }
        l.data = try r.readFloats(count: cells)
        if metric == .cosine { l.invNorms = try r.readFloats(count: s) }
        return l
    }
}

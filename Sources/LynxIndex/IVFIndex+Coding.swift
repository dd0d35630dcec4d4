extension IVFIndex {
    /// Layout version 2 (little-endian), see docs/IVF.md: magic "LXIV" u32, version u32, dimension u32, metric u8,
    /// configured clusters u32, default nProbe u32, seed u64, train threshold u64, trained u8, trained count u64,
    /// k-means iterations u32, lists L u32, count n u64, spill u8, rows R u64 (n + spilled copies), centroids
    /// f32×(L·d, trained only), list sizes u64×L (sum R), then per list: ids u64×size, vectors f32×(size·d),
    /// [cosine] inverse norms f32×size, partners u32×size.
    /// Version 1 (read only) lacks spill, R and the partners: it loads as spill 0.
    public func serialize(into w: inout BinaryWriter) {
        let n = count, rows = n + spilledCount
        w.reserveCapacity(w.bytes.count + 80 + centroids.count * 4 + lists.count * 8 + rows * (12 + dimension * 4)
                          + (metric == .cosine ? rows * 4 : 0))
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
        w.write(UInt64(rows))
        if isTrained { w.write(contentsOf: centroids) }
        for l in lists { w.write(UInt64(l.count)) }
        for l in lists {
            w.write(contentsOf: l.ids)
            w.write(contentsOf: l.data)
            if metric == .cosine { w.write(contentsOf: l.invNorms) }
            w.write(contentsOf: l.partners)
        }
    }

    public init(from r: inout BinaryReader) throws {
        let (dim, metric, version) = try r.readIndexHeader(magic: IVFIndex.magic, versions: 1...IVFIndex.formatVersion,
                                                           kind: "ivf")
        guard dim > 0 else { throw IndexDecodingError.corrupt("dimension 0") }
        let configured = Int(try r.readUInt32())
        guard configured < Int(IVFIndex.partnerMask) else { throw IndexDecodingError.corrupt("n_clusters \(configured)") }
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
        guard n64 <= UInt64(Int.max / 4) else { throw IndexDecodingError.corrupt("count \(n64)") }
        var spill = 0
        var rows64 = n64
        if version >= 2 {
            spill = Int(try r.readUInt8())
            guard spill <= IVFIndex.maxSpill else { throw IndexDecodingError.corrupt("spill \(spill)") }
            rows64 = try r.readUInt64()
            guard rows64 >= n64, rows64 - n64 <= n64 else { throw IndexDecodingError.corrupt("rows \(rows64), count \(n64)") }
        }
        let trained = trainedByte == 1
        guard nLists >= 1, nLists < Int(IVFIndex.partnerMask), trained || nLists == 1 else {
            throw IndexDecodingError.corrupt("\(nLists) lists")
        }
        self.init(dimension: dim, metric: metric, nClusters: configured, defaultNProbe: nProbe, seed: seed,
                  trainThreshold: Int(threshold64), spill: spill)
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
            guard total <= rows64 else { throw IndexDecodingError.corrupt("list sizes exceed rows \(rows64)") }
        }
        guard total == rows64 else { throw IndexDecodingError.corrupt("list sizes sum to \(total), rows \(rows64)") }
        var newLists = [InvertedList]()
        newLists.reserveCapacity(nLists)
        location.reserveCapacity(Int(n64))
        for (c, s64) in sizes64.enumerated() {
            let s = Int(s64)
            var l = InvertedList()
            l.ids = try r.readUInt64s(count: s)
            let (cells, overflow) = s.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw IndexDecodingError.corrupt("size × dimension overflows") }
            l.data = try r.readFloats(count: cells)
            if metric == .cosine { l.invNorms = try r.readFloats(count: s) }
            l.partners = version >= 2 ? try r.readUInt32s(count: s) : [UInt32](repeating: UInt32(c), count: s)
            for (row, id) in l.ids.enumerated() {
                let partner = l.partners[row]
                let other = Int(partner & IVFIndex.partnerMask), spilled = partner & IVFIndex.spilledBit != 0
                guard other < nLists, !spilled || other != c, spill > 0 || other == c else {
                    throw IndexDecodingError.corrupt("row \(row) of list \(c): partner \(partner)")
                }
                if (spilled ? spillLocation : location).keys.contains(id) {
                    throw IndexDecodingError.corrupt("duplicate id \(id)")
                }
                if spilled { spillLocation[id] = IVFIndex.pack(c, row) } else { location[id] = IVFIndex.pack(c, row) }
            }
            newLists.append(l)
        }
        lists = newLists
        guard location.count == Int(n64) else { throw IndexDecodingError.corrupt("\(location.count) vectors, count \(n64)") }
        try checkCopiesPair()
    }

    /// Decoding check: every spilled copy and its primary copy name each other's lists.
    func checkCopiesPair() throws {
        for (id, loc) in spillLocation {
            let (sc, sr) = IVFIndex.unpack(loc)
            guard let p = location[id] else { throw IndexDecodingError.corrupt("spilled copy of absent id \(id)") }
            let (pc, pr) = IVFIndex.unpack(p)
            guard Int(lists[sc].partners[sr] & IVFIndex.partnerMask) == pc,
                  Int(lists[pc].partners[pr]) == sc else {
                throw IndexDecodingError.corrupt("copies of id \(id) disagree on their lists")
            }
        }
        // a primary copy that names another list must have its spilled copy there
        for (id, loc) in location {
            let (c, r) = IVFIndex.unpack(loc)
            if Int(lists[c].partners[r]) != c && spillLocation[id] == nil {
                throw IndexDecodingError.corrupt("id \(id) names a spilled copy that is absent")
            }
        }
    }
}

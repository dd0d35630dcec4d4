/// One search result: the external id and the distance as reported to users (see `Metric`).
public struct SearchHit: Equatable, Sendable {
    public var id: UInt64
    public var distance: Float
    public init(id: UInt64, distance: Float) {
        self.id = id
        self.distance = distance
    }
}

/// Per-request search knobs. `nil` means the index's default. Indexes ignore knobs that do not apply to them
/// (Flat ignores them all; HNSW reads `efSearch`, and with codes `rescore` and `oversample`; IVF reads `nProbe`).
public struct SearchParams: Sendable {
    public var efSearch: Int?
    public var nProbe: Int?
    /// With codes: score the best candidates again from the full vectors (default true).
    public var rescore: Bool?
    /// With codes and `rescore`: how many candidates are scored again, as a factor on k
    /// (default `defaultOversample`; at least k, at most the beam).
    public var oversample: Double?

    public static let defaultOversample = 4.0
    /// The factors a search may give.
    public static let oversampleRange = 1.0...100.0

    public init(efSearch: Int? = nil, nProbe: Int? = nil, rescore: Bool? = nil, oversample: Double? = nil) {
        self.efSearch = efSearch
        self.nProbe = nProbe
        self.rescore = rescore
        self.oversample = oversample
    }
}

/// Memory estimates in bytes, based on allocated capacity (not just the live count).
/// `vectorBytes`: the float storage (plus inverse norms); `codeBytes`: the codes searched on (`Quantization`) and
/// their quantizer's rotation and centroid (rabitq); `indexBytes`: everything else (ids, id map, graph).
/// `mappedBytes`: full vectors read in place from their files (`RowChunkMapper`), not in memory and not in the total.
public struct IndexMemory: Equatable, Sendable {
    public var vectorBytes: Int
    public var indexBytes: Int
    public var codeBytes: Int
    public var mappedBytes: Int
    public init(vectorBytes: Int, indexBytes: Int, codeBytes: Int = 0, mappedBytes: Int = 0) {
        self.vectorBytes = vectorBytes
        self.indexBytes = indexBytes
        self.codeBytes = codeBytes
        self.mappedBytes = mappedBytes
    }

    public var totalBytes: Int { vectorBytes + indexBytes + codeBytes }
}

/// Estimated bytes of a `[UInt64: UInt32]`-like Swift dictionary with `capacity` buckets' worth of entries
/// (keys + values + one metadata bit array; Swift keeps the load factor ≤ 3/4).
@inline(__always)
public func dictionaryBytes(capacity: Int, keyBytes: Int, valueBytes: Int) -> Int {
    let buckets = max(1, capacity * 4 / 3)
    return buckets * (keyBytes + valueBytes) + buckets / 8 + 64
}

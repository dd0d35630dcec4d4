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
/// (Flat ignores both; HNSW reads `efSearch`; IVF reads `nProbe`).
public struct SearchParams: Sendable {
    public var efSearch: Int?
    public var nProbe: Int?
    public init(efSearch: Int? = nil, nProbe: Int? = nil) {
        self.efSearch = efSearch
        self.nProbe = nProbe
    }
}

/// Memory estimates in bytes, based on allocated capacity (not just the live count).
/// `vectorBytes`: the float storage (plus inverse norms); `indexBytes`: everything else (ids, id map, graph).
public struct IndexMemory: Equatable, Sendable {
    public var vectorBytes: Int
    public var indexBytes: Int
    public init(vectorBytes: Int, indexBytes: Int) {
        self.vectorBytes = vectorBytes
        self.indexBytes = indexBytes
    }
}

/// Estimated bytes of a `[UInt64: UInt32]`-like Swift dictionary with `capacity` buckets' worth of entries
/// (keys + values + one metadata bit array; Swift keeps the load factor ≤ 3/4).
@inline(__always)
func dictionaryBytes(capacity: Int, keyBytes: Int, valueBytes: Int) -> Int {
    let buckets = max(1, capacity * 4 / 3)
    return buckets * (keyBytes + valueBytes) + buckets / 8 + 64
}

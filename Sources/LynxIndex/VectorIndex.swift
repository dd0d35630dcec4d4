import LynxSupport

/// A vector index with value semantics.
///
/// Implementations keep their large storage in arrays, so copying an index is O(1) and the copy is a consistent
/// snapshot (copy-on-write): the engine copies the index under its writer lock and serializes the copy on another
/// thread while writes continue on the original.
///
/// Concurrency contract: `search`, `vector`, `contains`, `memory`, `parameters`, `serialize` and `planUpsert` are
/// read-only and may run concurrently from any number of threads on the same value; `upsert`, `applyUpsert` and
/// `remove` need exclusive access (one writer, no concurrent readers of that same value — readers of an earlier
/// copy are fine).
///
/// Two-phase upsert: `planUpsert` does the expensive part of an upsert (for HNSW: every distance computation) as
/// a read, so it can run while searches run; `applyUpsert` then only writes. `applyUpsert(plan)` must leave the
/// index exactly as `upsert` would have, provided nothing mutated the value between the two calls (the caller's
/// job: one writer, holding its writer lock from plan to apply). An index may detect a stale plan and fall back
/// to `upsert`; one that cannot split its upserts returns nil from `planUpsert` and the caller calls `upsert`.
public protocol VectorIndex: Sendable {
    var dimension: Int { get }
    var metric: Metric { get }
    /// Live vectors.
    var count: Int { get }
    func contains(_ id: UInt64) -> Bool
    /// Calls `body` with the id of every live vector, in no particular order.
    func forEachID(_ body: (UInt64) -> Void)
    /// The vector exactly as inserted, or nil.
    func vector(_ id: UInt64) -> [Float]?
    /// Inserts, or replaces the vector of an existing id. Preconditions: `vector.count == dimension`,
    /// `metric.isValid(vector)` (finite; non-zero under cosine).
    mutating func upsert(id: UInt64, vector: UnsafeBufferPointer<Float>)
    /// True when `planUpsert` can return plans (default false: callers may then apply a batch of upserts in one
    /// exclusive section instead of planning record by record).
    var plansUpserts: Bool { get }
    /// Read-only first half of `upsert` (see above). nil: call `upsert` instead. Same preconditions as `upsert`.
    func planUpsert(id: UInt64, vector: UnsafeBufferPointer<Float>) -> UpsertPlan?
    /// Second half of `upsert`: applies `plan`, made by `planUpsert` with the same id and vector against this value
    /// unchanged since. Same result as `upsert(id:vector:)`.
    mutating func applyUpsert(_ plan: UpsertPlan, id: UInt64, vector: UnsafeBufferPointer<Float>)
    /// Plans upserting several records at once (read-only, like `planUpsert`), spreading the distance work over the
    /// caller's parallel-for (`parallel(n, body)` runs `body(0..<n)` on several threads and returns when all are
    /// done). `ids[i]`'s vector is `vectors[i*dimension ..< (i+1)*dimension]`; ids are distinct. nil: the index
    /// cannot (the caller upserts one by one).
    func planUpserts(ids: [UInt64], vectors: UnsafeBufferPointer<Float>,
                     parallel: (Int, (Int) -> Void) -> Void) -> UpsertPlan?
    /// Applies a plan of `planUpserts` made against this value unchanged since, with the same ids and vectors:
    /// afterwards every record is upserted.
    mutating func applyUpserts(_ plan: UpsertPlan, ids: [UInt64], vectors: UnsafeBufferPointer<Float>)
    /// Whether mutations run the index's housekeeping themselves when it is due (HNSW: consolidating tombstones). An
    /// owner that runs it elsewhere (the engine's builder: on a copy, outside its write lock) turns this off and
    /// calls `performHousekeeping()` when `housekeepingDue`. Not serialized: a decoded index has it on.
    var housekeepsAutomatically: Bool { get set }
    var housekeepingDue: Bool { get }
    mutating func performHousekeeping()
    /// Removes `id`; false when it was absent.
    @discardableResult mutating func remove(_ id: UInt64) -> Bool
    /// The `k` nearest live vectors to `query`, nearest first, ties broken by lower id. `filter`, when given, is
    /// called with candidate ids inside the search; only ids for which it returns true are returned.
    /// Precondition: `query.count == dimension`. A query that is invalid for the metric returns [].
    func search(_ query: UnsafeBufferPointer<Float>, k: Int, params: SearchParams,
                filter: ((UInt64) -> Bool)?) -> [SearchHit]
    /// `count` searches at once: `queries` holds `count` vectors of `dimension` floats, row-major; the answer has one
    /// list per query, in order, each exactly what `search` returns for that query (same ids, distances and order).
    /// `filter` applies to every query. The default loops over `search`; Flat scans its rows once per batch.
    func search(batch queries: UnsafeBufferPointer<Float>, count: Int, k: Int, params: SearchParams,
                filter: ((UInt64) -> Bool)?) -> [[SearchHit]]
    /// Pushes into `top` the ranking score (see `Metric`) of each of `ids` the index holds against `query`
    /// (`queryInverseNorm`: 1/‖q‖ under cosine, otherwise 1); ids it does not hold are skipped. For scoring a
    /// known set of records exactly (a filter's matches). The default reads each vector through `vector(_:)`.
    func score(_ query: UnsafePointer<Float>, queryInverseNorm: Float, ids: [UInt64], into top: inout TopK)
    var memory: IndexMemory { get }
    /// Replaces the full vectors it holds in memory that are stored unchanged (by a snapshot now safe) with their
    /// stored rows read in place (`RowChunkMapper`); returns the chunks replaced. The default holds none it can.
    mutating func mapStoredVectors(using mapper: any RowChunkMapper) throws -> Int
    /// Construction parameters for `/stats`, e.g. `[("m", "16"), ...]`.
    var parameters: [(String, String)] { get }
    /// Appends the whole structure (format documented in docs/INDEXES.md; starts with magic + version).
    func serialize(into writer: inout BinaryWriter)
    init(from reader: inout BinaryReader) throws
}

/// The opaque result of `VectorIndex.planUpsert`: whatever the index needs to finish the upsert without
/// recomputing it. Immutable; holds no reference to the index's storage (so applying it does not force a
/// copy-on-write of the index).
public struct UpsertPlan: Sendable {
    let payload: any Sendable

    init(_ payload: any Sendable) {
        self.payload = payload
    }
}

extension VectorIndex {
    public func score(_ query: UnsafePointer<Float>, queryInverseNorm: Float, ids: [UInt64], into top: inout TopK) {
        for id in ids {
            guard let v = vector(id) else { continue }
            v.withUnsafeBufferPointer { p in
                let inverseNorm = metric == .cosine ? Distance.inverseNorm(p.baseAddress!, dimension) : 1
                top.push(score: Distance.score(metric, query, queryInverseNorm, p.baseAddress!, inverseNorm, dimension), id: id)
            }
        }
    }

    public mutating func mapStoredVectors(using mapper: any RowChunkMapper) throws -> Int { 0 }

    /// Default: no plan phase; the whole upsert runs in `applyUpsert`/`upsert`.
    public var plansUpserts: Bool { false }

    public func planUpsert(id: UInt64, vector: UnsafeBufferPointer<Float>) -> UpsertPlan? { nil }

    /// Default: `upsert`.
    public mutating func applyUpsert(_ plan: UpsertPlan, id: UInt64, vector: UnsafeBufferPointer<Float>) {
        upsert(id: id, vector: vector)
    }

    /// Default: no housekeeping of its own.
    public var housekeepsAutomatically: Bool {
        get { true }
        set {}
    }

    public var housekeepingDue: Bool { false }

    public mutating func performHousekeeping() {}

    /// Default: no batch plans.
    public func planUpserts(ids: [UInt64], vectors: UnsafeBufferPointer<Float>,
                            parallel: (Int, (Int) -> Void) -> Void) -> UpsertPlan? { nil }

    /// Default: one `upsert` per record.
    public mutating func applyUpserts(_ plan: UpsertPlan, ids: [UInt64], vectors: UnsafeBufferPointer<Float>) {
        for (i, id) in ids.enumerated() {
            upsert(id: id, vector: UnsafeBufferPointer(rebasing: vectors[(i * dimension)..<((i + 1) * dimension)]))
        }
    }

    /// Array convenience for `upsert`.
    public mutating func upsert(id: UInt64, vector: [Float]) {
        vector.withUnsafeBufferPointer { upsert(id: id, vector: $0) }
    }

    /// Default: one `search` per query.
    public func search(batch queries: UnsafeBufferPointer<Float>, count: Int, k: Int, params: SearchParams,
                       filter: ((UInt64) -> Bool)?) -> [[SearchHit]] {
        precondition(queries.count == count * dimension, "batch size mismatch")
        return (0..<count).map { i in
            search(UnsafeBufferPointer(rebasing: queries[(i * dimension)..<((i + 1) * dimension)]),
                   k: k, params: params, filter: filter)
        }
    }

    /// Array convenience for `search(batch:...)`: `queries` holds whole vectors, back to back.
    public func search(batch queries: [Float], k: Int, params: SearchParams = SearchParams(),
                       filter: ((UInt64) -> Bool)? = nil) -> [[SearchHit]] {
        precondition(queries.count % dimension == 0, "not a whole number of queries")
        return queries.withUnsafeBufferPointer {
            search(batch: $0, count: queries.count / dimension, k: k, params: params, filter: filter)
        }
    }

    /// Array convenience for `search`.
    public func search(_ query: [Float], k: Int, params: SearchParams = SearchParams(),
                       filter: ((UInt64) -> Bool)? = nil) -> [SearchHit] {
        query.withUnsafeBufferPointer { search($0, k: k, params: params, filter: filter) }
    }

    /// The serialized bytes of the whole index.
    public func serializedBytes() -> [UInt8] {
        var w = BinaryWriter()
        serialize(into: &w)
        return w.bytes
    }
}

/// Which index structure a serialized blob holds; decodes any of them.
public enum IndexKind: String, CaseIterable, Sendable {
    case flat, hnsw, ivf

    public var magic: UInt32 {
        switch self {
        case .flat: return FlatIndex.magic
        case .hnsw: return HNSWIndex.magic
        case .ivf: return IVFIndex.magic
        }
    }

    /// Decodes whichever index structure starts at the reader's offset (dispatching on its magic number).
    public static func decode(from reader: inout BinaryReader) throws -> any VectorIndex {
        let magic = try reader.peekUInt32()
        switch magic {
        case FlatIndex.magic: return try FlatIndex(from: &reader)
        case HNSWIndex.magic: return try HNSWIndex(from: &reader)
        case IVFIndex.magic: return try IVFIndex(from: &reader)
        default: throw BinaryDecodingError.badMagic(found: magic)
        }
    }
}

/// Four ASCII bytes as a little-endian UInt32 (so they read as the text in a hex dump).
@inline(__always)
func fourCC(_ s: StaticString) -> UInt32 {
    precondition(s.utf8CodeUnitCount == 4)
    let p = s.utf8Start
    return UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
}

/// Hierarchical Navigable Small World graph (Malkov & Yashunin), laid out as in hnswlib.
///
/// Storage (all in arrays, so a copy of the struct is an O(1) copy-on-write snapshot):
/// - `vectors`: the vectors exactly as given, by internal slot, in 1,024-slot copy-on-write chunks (`ChunkedRows`);
/// - `invNorms`: 1/‖v‖ per slot (cosine only);
/// - `links0`: level-0 adjacency, one contiguous block of `2m + 1` UInt32 per slot: `[count, n0, n1, …]`;
/// - `upperLinks`: levels ≥ 1, only for slots whose level is ≥ 1: a block of `level × (m + 1)` UInt32 starting at
///   `upperStart[slot]`, level `l` at `upperStart[slot] + (l − 1)(m + 1)`, each `[count, n0, …]`;
/// - `ids`, `levels`, `states` (`SlotState`) per slot; `slotOf` maps live ids to slots; `freeSlots` lists the
///   free (unlinked) slots;
/// - with `quantization` sq8, once `quantizer` is fitted: `codes`, one per slot, and under l2 `codeTerms`, ‖x̃‖² of
///   each code's vector; with rabitq, once `rabitq` is fitted: `codes`, one row per slot holding the two
///   `RaBitQuantizer.Factors` of the code (factor, term) and then the code (`+Codes`).
///
/// Insert: hnswlib's addPoint (greedy descent, ef_construction beam search per level, heuristic neighbour selection
/// = getNeighborsByHeuristic2, reverse links shrunk by the same heuristic).
/// Delete: tombstone. A tombstoned node stays in the graph and is traversed but never returned. Once tombstones
/// reach `consolidationThreshold`, `consolidate()` re-links their live in-neighbours around them and turns their
/// slots into free slots. An insert takes a free slot when there is one (as hnswlib's `replace_deleted`): the
/// vector is overwritten in place and the node is inserted at the slot's old level.
/// Upsert of an existing id with a different vector is a replacement: the old node is tombstoned and the new vector
/// inserted as a new node (in a free slot or an appended one); the same vector again is a no-op. So heavy churn
/// reuses memory instead of accumulating dead nodes.
///
/// Search: greedy descent through the upper levels, then an `ef` beam search on level 0 that traverses every node
/// but collects only live nodes that pass the filter (hnswlib's searchBaseLayerST), so `k` matching results come
/// back when they are reachable. The visited set is a bitset allocated per search (n/8 bytes). With codes, the
/// traversal compares the query with codes and the best candidates are scored again from the vectors. Inserts
/// link on the vectors, or on the codes once they are fitted when `linksOnCodes` (vectors on disk).
///
/// Two-phase upsert (`planUpsert`, a read, then `applyUpsert`, writes only): the plan holds every link list the
/// insert changes (with the replaced node seen as tombstoned and the new vector read from the caller), so the apply
/// is array writes only. `upsert` is the plan applied at once, so the two give byte-identical results.
/// A replacement whose tombstone would trigger consolidation is not planned (nil: the caller runs `upsert`).
///
/// Files: this one (storage, levels, link access), `+View` (raw view, greedy descent, layer search), `+Search`,
/// `+Insert` (upsert, plan/apply, link planning, neighbour heuristic), `+Maintenance` (remove, consolidation,
/// repair), `+Codes` (fitting and writing codes, scoring a query against them), `+CodeLinks` (the scorer of a
/// query, linking on the codes), `+Coding` (serialization,
/// validation, stats).
///
/// Concurrency: see `VectorIndex`: `search` and `planUpsert` are pure reads and may run on many threads at once;
/// `upsert`/`applyUpsert`/`remove` need exclusive access to this value.
public struct HNSWIndex: VectorIndex {
    public static let magic: UInt32 = fourCC("LXHN")
    public static let formatVersion: UInt32 = 4
    static let none = UInt32.max

    public let dimension: Int
    public let metric: Metric
    /// Links per node on levels ≥ 1 (level 0 keeps up to 2m).
    public let m: Int
    public let efConstruction: Int
    /// Default beam width of `search` (a request's `SearchParams.efSearch` overrides it).
    public var efSearch: Int
    /// Seed of the level generator (nil: drawn from the system generator at creation).
    public let seed: UInt64?
    /// The codes kept beside the vectors (`Quantization`); set at creation (or by decoding).
    public internal(set) var quantization: Quantization

    let maxM0: Int
    let stride0: Int
    let strideUp: Int
    var rngState: UInt64

    /// By slot, in copy-on-write chunks (see `ChunkedRows`): the write after a checkpoint's O(1) capture copies one
    /// chunk, not every vector.
    var vectors: ChunkedRows
    var invNorms: [Float] = []
    var ids: [UInt64] = []
    var levels: [UInt8] = []
    var states: [SlotState] = []
    var links0: [UInt32] = []
    var upperStart: [UInt32] = []
    var upperLinks: [UInt32] = []
    var slotOf: [UInt64: UInt32] = [:]
    var freeSlots: [UInt32] = []
    /// Fitted once the index holds `ScalarQuantizer.trainingSize` vectors (sq8 only); until then no codes.
    var quantizer: ScalarQuantizer?
    /// Fitted likewise, rabitq only.
    var rabitq: RaBitQuantizer?
    var codes: CodeRows
    var codeTerms: [Float] = []
    var tombstones: Int = 0
    var entryPoint: UInt32 = HNSWIndex.none
    var maxLevel: Int = -1
    /// Bumped by every change of the graph (not serialized); a plan records it and apply checks it.
    var mutationCount: UInt64 = 0
    /// Whether removes, replacements and batches consolidate by themselves once tombstones reach
    /// `consolidationThreshold` (not serialized: a decoded index has it on). The engine's builder turns it off and
    /// consolidates a copy outside its write lock (`VectorIndex.housekeepsAutomatically`).
    public var consolidatesAutomatically = true
    /// Whether inserts link the graph on the codes once they are fitted, where the codes make as good a graph
    /// (`linkingOnCodes`; else on the vectors): layer searches and neighbour choices then read codes only
    /// (`+CodeLinks`), so that a store whose vectors are on disk does not read them back to link. Off unless the
    /// vectors are on disk: codes fitted on the first vectors describe later ones that drift away from them
    /// poorly, and a graph linked on such codes stays poor after a rebuild refits them (BENCHMARKS.md, "Linking
    /// on the codes"). Not serialized: the store sets it from its manifest.
    public var linksOnCodes = false

    public init(dimension: Int, metric: Metric, m: Int = IndexParameter.m.defaultValue,
                efConstruction: Int = IndexParameter.efConstruction.defaultValue,
                efSearch: Int = SearchParameter.efSearch.defaultValue, seed: UInt64? = nil,
                quantization: Quantization = .none) {
        precondition(dimension > 0, "dimension must be positive")
        precondition(m >= 2 && m <= 2048, "m must be in 2...2048")
        precondition(efConstruction >= 1 && efSearch >= 1, "ef must be positive")
        precondition(quantization.refusal(dimension: dimension) == nil, "quantization unfit for the dimension")
        self.dimension = dimension
        self.metric = metric
        vectors = ChunkedRows(width: dimension)
        codes = CodeRows(width: HNSWIndex.codeWidth(dimension: dimension, quantization))
        self.quantization = quantization
        self.m = m
        self.efConstruction = max(efConstruction, m)
        self.efSearch = efSearch
        self.seed = seed
        maxM0 = 2 * m
        stride0 = 2 * m + 1
        strideUp = m + 1
        var sys = SystemRandomNumberGenerator()
        rngState = seed ?? sys.next()
    }

    /// State of a slot (serialized as its raw value).
    enum SlotState: UInt8 {
        case live = 0
        /// removed; still linked and traversed, never returned
        case tombstone = 1
        /// unlinked (no node links to it), in `freeSlots`, waiting for reuse
        case free = 2
    }

    public var count: Int { slotOf.count }
    /// Slots in use, live or tombstoned.
    public var slotCount: Int { ids.count }
    /// Removed nodes still linked in the graph (cleared by `consolidate()`).
    public var tombstoneCount: Int { tombstones }
    /// Unlinked slots waiting for reuse by inserts.
    public var freeSlotCount: Int { freeSlots.count }

    public func contains(_ id: UInt64) -> Bool { slotOf[id] != nil }

    public func forEachID(_ body: (UInt64) -> Void) { slotOf.keys.forEach(body) }

    public func vector(_ id: UInt64) -> [Float]? {
        guard let s = slotOf[id] else { return nil }
        return Array(UnsafeBufferPointer(start: vectors.row(Int(s)), count: dimension))
    }

    public mutating func reserveCapacity(_ n: Int) {
        if metric == .cosine { invNorms.reserveCapacity(n) }
        ids.reserveCapacity(n)
        levels.reserveCapacity(n)
        states.reserveCapacity(n)
        links0.reserveCapacity(n * stride0)
        upperStart.reserveCapacity(n)
        slotOf.reserveCapacity(n)
    }

    // MARK: - random levels

    /// floor(−ln(u)·mL) with mL = 1/ln(m), i.e. P(level ≥ l) = m^(−l), computed without logarithms.
    /// Advances `state` (the plan phase draws from a copy of `rngState`; apply stores the advanced copy).
    static func randomLevel(m: Int, _ state: inout UInt64) -> Int {
        var rng = SplitMix64(seed: state)
        let u = (Double(rng.next() >> 11) + 1) * 0x1p-53  // (0, 1]
        state = rng.state
        var level = 0
        var threshold = 1.0 / Double(m)
        while u < threshold && level < 30 {
            level += 1
            threshold /= Double(m)
        }
        return level
    }

    // MARK: - raw access helpers

    @inline(__always)
    func linkOffset(_ slot: UInt32, _ level: Int) -> Int {
        level == 0 ? Int(slot) &* stride0 : Int(upperStart[Int(slot)]) &+ (level &- 1) &* strideUp
    }

    /// Neighbours of `slot` at `level` (a copy; used by the mutating paths).
    func neighbors(_ slot: UInt32, _ level: Int) -> [UInt32] {
        let off = linkOffset(slot, level)
        if level == 0 {
            let c = Int(links0[off])
            return Array(links0[(off + 1)..<(off + 1 + c)])
        } else {
            let c = Int(upperLinks[off])
            return Array(upperLinks[(off + 1)..<(off + 1 + c)])
        }
    }

    mutating func setNeighbors(_ slot: UInt32, _ level: Int, _ list: [UInt32]) {
        setNeighbors(slot, level, list[...])
    }

    mutating func setNeighbors(_ slot: UInt32, _ level: Int, _ list: ArraySlice<UInt32>) {
        let off = linkOffset(slot, level)
        if level == 0 {
            links0[off] = UInt32(list.count)
            for (i, n) in zip(1..., list) { links0[off + i] = n }
        } else {
            upperLinks[off] = UInt32(list.count)
            for (i, n) in zip(1..., list) { upperLinks[off + i] = n }
        }
    }

    /// Score between two stored slots.
    @inline(__always)
    func pairScore(_ a: UInt32, _ b: UInt32) -> Float {
        let dim = dimension
        let pa = vectors.row(Int(a)), pb = vectors.row(Int(b))
        switch metric {
        case .l2: return Distance.l2Squared(pa, pb, dim)
        case .cosine: return 1 - Distance.dot(pa, pb, dim) * invNorms[Int(a)] * invNorms[Int(b)]
        case .dot: return -Distance.dot(pa, pb, dim)
        }
    }
}

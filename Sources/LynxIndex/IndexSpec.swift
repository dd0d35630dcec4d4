/// An index and the parameters that shape its stored structure (changing one needs a rebuild): what a store is
/// created with, what its manifest records and what the replication catalog carries.
///
/// The keys of the parameters are written here and nowhere else. The manifest stores them as `param.KEY=VALUE`
/// lines (`manifestParameters`; `Manifest` in LynxStorage keeps them as strings), `PUT /collections/{name}` and
/// `GET /collections` name them as JSON members, the catalog likewise, and `/stats` and lynx-bench print them.
///
///     flat                                   no parameters
///     hnsw  m=16  ef_construction=200        links per node; candidate list while linking;
///           quantization=none                codes searched on (`Quantization`: none, sq8, rabitq:B; not a number, so not an
///                                            `IndexParameter`)
///           on_disk=false                    full vectors read in place from their files, not held in memory
///                                            (`onDiskKey`; the manifest records it only when true)
///     ivf   n_clusters=0  spill=1            lists (0: √n at each training); extra lists per vector (SOAR)
public enum IndexSpec: Sendable, Hashable {
    case flat
    case hnsw(m: Int, efConstruction: Int, quantization: Quantization = .none, onDisk: Bool = false)
    case ivf(clusters: Int, spill: Int)

    /// The index of a store created without naming one.
    public static let defaultKind: IndexKind = .hnsw

    /// The key of `onDisk` in the manifest, in JSON bodies and in the catalog.
    public static let onDiskKey = "on_disk"
    /// The indexes whose full vectors can be kept on disk.
    public static let onDiskIndexes: [IndexKind] = [.hnsw]

    /// `kind` with the parameters `given` names for it and the defaults for the others (parameters of another
    /// index are ignored; `IndexParameters.validate` refuses them where that is an error).
    public init(kind: IndexKind, _ given: IndexParameters = IndexParameters()) {
        self.init(kind: kind, quantization: given.quantization ?? .none, onDisk: given.onDisk ?? false) {
            given[$0] ?? $0.defaultValue
        }
    }

    /// What a manifest's `param.` lines mean: a key missing from it (a store made before the parameter existed)
    /// or not a number takes `IndexParameter.valueWhenUnrecorded`; a value is clamped to the parameter's range.
    /// A quantization type this build does not know reads as none (the index's own serialized form, which
    /// says what it stores, then refuses to decode).
    public init(kind: IndexKind, manifestParameters stored: [String: String]) {
        self.init(kind: kind, quantization: Quantization(stored: stored) ?? .none,
                  onDisk: stored[Self.onDiskKey] == "true") { p in
            let v = stored[p.key].flatMap { Int($0) } ?? p.valueWhenUnrecorded
            return min(max(v, p.range.lowerBound), p.range.upperBound)
        }
    }

    private init(kind: IndexKind, quantization: Quantization, onDisk: Bool, value: (IndexParameter) -> Int) {
        switch kind {
        case .flat: self = .flat
        case .hnsw:
            self = .hnsw(m: value(.m), efConstruction: value(.efConstruction), quantization: quantization, onDisk: onDisk)
        case .ivf: self = .ivf(clusters: value(.clusters), spill: value(.spill))
        }
    }

    public var kind: IndexKind {
        switch self {
        case .flat: return .flat
        case .hnsw: return .hnsw
        case .ivf: return .ivf
        }
    }

    /// Every parameter of the index with its value, in `IndexParameter.allCases` order.
    public var values: [(parameter: IndexParameter, value: Int)] {
        switch self {
        case .flat: return []
        case .hnsw(let m, let ef, _, _): return [(.m, m), (.efConstruction, ef)]
        case .ivf(let clusters, let spill): return [(.clusters, clusters), (.spill, spill)]
        }
    }

    /// The codes the index keeps (`none` but for an HNSW index made with some).
    public var quantization: Quantization {
        if case .hnsw(_, _, let quantization, _) = self { return quantization }
        return .none
    }

    /// The full vectors are read in place from their files (the store's row chunk files) rather than held in
    /// memory; the codes, the graph, ids and metadata stay in memory.
    public var onDisk: Bool {
        if case .hnsw(_, _, _, let onDisk) = self { return onDisk }
        return false
    }

    /// The same values as parameters given, each one set.
    public var parameters: IndexParameters {
        var p = IndexParameters()
        for (parameter, value) in values { p[parameter] = value }
        p.quantization = quantization
        p.onDisk = onDisk
        return p
    }

    /// The manifest's `param.` lines of a store made with this spec (every parameter of the index, and its
    /// quantization unless none).
    public var manifestParameters: [String: String] {
        Dictionary(uniqueKeysWithValues: values.map { ($0.parameter.key, String($0.value)) })
            .merging(quantization.storedParameters) { a, _ in a }
            .merging(onDisk ? [Self.onDiskKey: "true"] : [:]) { a, _ in a }
    }
}

/// A structural index parameter: its key, the index it belongs to, its range and its default.
public enum IndexParameter: String, CaseIterable, Sendable, Hashable {
    case m
    case efConstruction = "ef_construction"
    case clusters = "n_clusters"
    case spill

    /// The name in the manifest, in JSON bodies and in the catalog.
    public var key: String { rawValue }

    public var kind: IndexKind {
        switch self {
        case .m, .efConstruction: return .hnsw
        case .clusters, .spill: return .ivf
        }
    }

    /// The values a flag or a collection's settings may give (the same for both).
    public var range: ClosedRange<Int> {
        switch self {
        case .m: return 2...128
        case .efConstruction: return 1...10_000
        case .clusters: return 0...1_000_000
        case .spill: return 0...IVFIndex.maxSpill
        }
    }

    /// The value of a store created without it.
    public var defaultValue: Int {
        switch self {
        case .m: return 16
        case .efConstruction: return 200
        case .clusters: return 0
        case .spill: return IVFIndex.defaultSpill
        }
    }

    /// The value of a store whose manifest lacks the key: the default, except spill, which a data directory made
    /// before spill existed does not have (it keeps plain IVF-Flat).
    public var valueWhenUnrecorded: Int { self == .spill ? 0 : defaultValue }

    /// The parameters of `kind`'s index.
    public static func of(_ kind: IndexKind) -> [IndexParameter] { allCases.filter { $0.kind == kind } }
}

/// Parameters as a caller gives them (flags, a collection's settings, a catalog entry): nil means "the stored
/// value", or the default when the store is made now (`IndexSpec.init(kind:_:)`).
public struct IndexParameters: Sendable, Hashable {
    private var values: [IndexParameter: Int] = [:]
    /// The codes to keep (`Quantization`); nil as the numbers are.
    public var quantization: Quantization?
    /// Full vectors on disk (`IndexSpec.onDisk`); nil as the numbers are.
    public var onDisk: Bool?

    public init(m: Int? = nil, efConstruction: Int? = nil, clusters: Int? = nil, spill: Int? = nil,
                quantization: Quantization? = nil, onDisk: Bool? = nil) {
        values[.m] = m
        values[.efConstruction] = efConstruction
        values[.clusters] = clusters
        values[.spill] = spill
        self.quantization = quantization
        self.onDisk = onDisk
    }

    public subscript(_ parameter: IndexParameter) -> Int? {
        get { values[parameter] }
        set { values[parameter] = newValue }
    }

    /// The first value out of its range (in `IndexParameter.allCases` order); then, with `kind`, the first
    /// parameter of another index.
    public func validate(for kind: IndexKind?) throws(IndexParameterError) {
        for p in IndexParameter.allCases {
            if let v = values[p], !p.range.contains(v) { throw .outOfRange(p, v) }
        }
        if let kind, let p = IndexParameter.allCases.first(where: { values[$0] != nil && $0.kind != kind }) {
            throw .ofAnotherIndex(p, kind)
        }
        if let kind, let quantization, quantization != .none, !Quantization.indexes.contains(kind) {
            throw .quantizationNotFor(kind)
        }
        if let kind, onDisk == true, !IndexSpec.onDiskIndexes.contains(kind) { throw .onDiskNotFor(kind) }
    }

    /// The given parameters of `kind`'s index in the manifest's form: a store asked for them must have them.
    /// A quantization given is asked for as the manifest has it: `none` as an empty value, which asks for the key
    /// to be absent (`Manifest.Request`).
    public func manifestParameters(for kind: IndexKind) -> [String: String] {
        var stored: [String: String] = [:]
        for p in IndexParameter.of(kind) { stored[p.key] = values[p].map { String($0) } }
        if let quantization { stored[Quantization.key] = quantization == .none ? "" : quantization.text }
        if let onDisk { stored[IndexSpec.onDiskKey] = onDisk ? "true" : "" }
        return stored
    }
}

/// Why `IndexParameters.validate` refused a parameter.
public enum IndexParameterError: Error, Sendable, Equatable {
    case outOfRange(IndexParameter, Int)
    /// The parameter belongs to another index than the one named.
    case ofAnotherIndex(IndexParameter, IndexKind)
    /// A quantization other than none for an index that keeps no codes.
    case quantizationNotFor(IndexKind)
    /// `on_disk` true for an index whose vectors cannot be kept on disk.
    case onDiskNotFor(IndexKind)

    /// The key of the setting refused (`IndexParameter.key`, or `Quantization.key`).
    public var key: String {
        switch self {
        case .outOfRange(let p, _), .ofAnotherIndex(let p, _): return p.key
        case .quantizationNotFor: return Quantization.key
        case .onDiskNotFor: return IndexSpec.onDiskKey
        }
    }

    /// Without the setting's name: `5 is out of range 2...128`, `is a parameter of the hnsw index, not of flat`.
    public var reason: String {
        switch self {
        case .outOfRange(let p, let v): return "\(v) is out of range \(p.range.lowerBound)...\(p.range.upperBound)"
        case .ofAnotherIndex(let p, let kind): return "is a parameter of the \(p.kind.rawValue) index, not of \(kind.rawValue)"
        case .quantizationNotFor(let kind):
            return "other than none is for the \(Quantization.indexes.map(\.rawValue).joined(separator: ", ")) index, not \(kind.rawValue)"
        case .onDiskNotFor(let kind):
            return "true is for the \(IndexSpec.onDiskIndexes.map(\.rawValue).joined(separator: ", ")) index, not \(kind.rawValue)"
        }
    }
}

/// Search-time parameters: a default per run (lynxd's flags), which a search may override. Never stored with a
/// store, so not part of `IndexSpec`; their keys live here beside the structural ones.
public enum SearchParameter: String, CaseIterable, Sendable {
    /// HNSW: candidate list size while searching.
    case efSearch = "ef_search"
    /// IVF: lists probed per search.
    case nProbe = "n_probe"

    public var key: String { rawValue }

    /// The per-run default unless a flag says otherwise.
    public var defaultValue: Int {
        switch self {
        case .efSearch: return 64
        case .nProbe: return 16
        }
    }
}

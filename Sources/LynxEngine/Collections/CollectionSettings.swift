import LynxIndex

/// What a collection is created with: its dimension, metric, index and the index's structural parameters.
/// Unset parameters take the same defaults as a store created from the start-up flags.
public struct CollectionSettings: Sendable, Equatable {
    public var dimension: Int
    public var metric: Metric
    public var index: IndexKind
    /// HNSW: links per node, and the candidate list while linking.
    public var hnswM: Int?
    public var hnswEfConstruction: Int?
    /// IVF: clusters (0: √n when it trains) and spilled copies per vector (0 or 1).
    public var ivfClusters: Int?
    public var ivfSpill: Int?

    public init(dimension: Int, metric: Metric = .l2, index: IndexKind = EngineConfig.defaultIndex,
                hnswM: Int? = nil, hnswEfConstruction: Int? = nil, ivfClusters: Int? = nil, ivfSpill: Int? = nil) {
        self.dimension = dimension
        self.metric = metric
        self.index = index
        self.hnswM = hnswM
        self.hnswEfConstruction = hnswEfConstruction
        self.ivfClusters = ivfClusters
        self.ivfSpill = ivfSpill
    }

    /// The settings that can be given, with their ranges (the same as the start-up flags').
    public enum Setting: String, Sendable {
        case dimension, metric, index, m, efConstruction = "ef_construction", nClusters = "n_clusters", spill
    }

    public static let dimensionRange = 1...65_536
    public static let hnswMRange = 2...128
    public static let efConstructionRange = 1...10_000
    public static let ivfClustersRange = 0...1_000_000
    public static let ivfSpillRange = 0...IVFIndex.maxSpill

    /// Throws `.settingOutOfRange` for a value out of its range, `.invalidSetting` for a parameter of another index kind.
    public func validate() throws(CollectionError) {
        func check(_ value: Int?, _ range: ClosedRange<Int>, _ setting: Setting) throws(CollectionError) {
            if let value, !range.contains(value) {
                throw .settingOutOfRange(setting, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
        }
        try check(dimension, Self.dimensionRange, .dimension)
        try check(hnswM, Self.hnswMRange, .m)
        try check(hnswEfConstruction, Self.efConstructionRange, .efConstruction)
        try check(ivfClusters, Self.ivfClustersRange, .nClusters)
        try check(ivfSpill, Self.ivfSpillRange, .spill)
        let foreign: [(Int?, Setting, IndexKind)] = [
            (hnswM, .m, .hnsw), (hnswEfConstruction, .efConstruction, .hnsw),
            (ivfClusters, .nClusters, .ivf), (ivfSpill, .spill, .ivf),
        ]
        for (value, setting, kind) in foreign where value != nil && index != kind {
            throw .invalidSetting(setting, "is a parameter of the \(kind.rawValue) index, not of \(index.rawValue)")
        }
    }

    /// The structural parameters a store created with these settings records (defaults filled in).
    func resolvedParameters(base: EngineConfig) -> [String: String] {
        let config = base.opening("", with: self)
        return IndexFactory.defaultParameters(for: index, config: config)
            .merging(DataDirectory.structuralParameters(config)) { _, given in given }
    }
}

/// A collection's settings as stored (read back from its manifest).
public struct StoredCollectionSettings: Sendable, Equatable {
    public var dimension: Int
    public var metric: Metric
    public var index: IndexKind
    /// Structural parameters by name (`m`, `ef_construction`, `n_clusters`, `spill`).
    public var parameters: [String: String]

    public init(dimension: Int, metric: Metric, index: IndexKind, parameters: [String: String]) {
        self.dimension = dimension
        self.metric = metric
        self.index = index
        self.parameters = parameters
    }
}

extension EngineConfig {
    /// These settings opening the store at `dataDir`, created with `settings`; nil: an existing store, whose
    /// manifest says what it is.
    func opening(_ dataDir: String, with settings: CollectionSettings?) -> EngineConfig {
        var c = self
        c.dataDir = dataDir
        c.dimension = settings?.dimension
        c.metric = settings?.metric
        c.index = settings?.index
        c.hnswM = settings?.hnswM
        c.hnswEfConstruction = settings?.hnswEfConstruction
        c.ivfClusters = settings?.ivfClusters
        c.ivfSpill = settings?.ivfSpill
        return c
    }
}

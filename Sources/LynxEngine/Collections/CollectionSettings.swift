import LynxIndex

/// What a collection is created with: its dimension, metric, index and the index's structural parameters.
/// Unset parameters take the same defaults as a store created from the start-up flags.
public struct CollectionSettings: Sendable, Equatable {
    public var dimension: Int
    public var metric: Metric
    public var index: IndexKind
    /// The structural parameters given; the others take their defaults (`IndexParameter.defaultValue`).
    public var parameters: IndexParameters

    public init(dimension: Int, metric: Metric = EngineConfig.defaultMetric, index: IndexKind = IndexSpec.defaultKind,
                parameters: IndexParameters = IndexParameters()) {
        self.dimension = dimension
        self.metric = metric
        self.index = index
        self.parameters = parameters
    }

    /// A setting an error names.
    public enum Setting: Sendable, Equatable {
        case dimension, metric, index, quantization, onDisk
        case parameter(IndexParameter)

        /// Its key in a request body.
        public var name: String {
            switch self {
            case .dimension: return "dimension"
            case .metric: return "metric"
            case .index: return "index"
            case .quantization: return Quantization.key
            case .onDisk: return IndexSpec.onDiskKey
            case .parameter(let p): return p.key
            }
        }
    }

    /// The dimensions a collection, or the flag of the default one, may have.
    public static let dimensionRange = indexDimensionRange

    /// Throws `.settingOutOfRange` for a value out of its range (the same as the start-up flags'),
    /// `.invalidSetting` for a parameter of another index kind.
    public func validate() throws(CollectionError) {
        if !Self.dimensionRange.contains(dimension) {
            throw .settingOutOfRange(.dimension, "\(dimension) is out of range \(Self.dimensionRange.lowerBound)...\(Self.dimensionRange.upperBound)")
        }
        do {
            try parameters.validate(for: index)
        } catch {
            switch error {
            case .outOfRange(let p, _): throw .settingOutOfRange(.parameter(p), error.reason)
            case .ofAnotherIndex(let p, _): throw .invalidSetting(.parameter(p), error.reason)
            case .quantizationNotFor: throw .invalidSetting(.quantization, error.reason)
            case .onDiskNotFor: throw .invalidSetting(.onDisk, error.reason)
            }
        }
        // A dimension the codes cannot take is out of their range: a 422 naming the dimension, as for any value
        // out of range (the request itself is well-formed).
        if let quantization = parameters.quantization, let reason = quantization.refusal(dimension: dimension) {
            throw .settingOutOfRange(.dimension, reason)
        }
    }

    /// The index a store created with these settings has (defaults filled in).
    public var indexSpec: IndexSpec { IndexSpec(kind: index, parameters) }
}

/// A collection's settings as stored (read back from its manifest).
public struct StoredCollectionSettings: Sendable, Equatable {
    public var dimension: Int
    public var metric: Metric
    public var index: IndexSpec

    public init(dimension: Int, metric: Metric, index: IndexSpec) {
        self.dimension = dimension
        self.metric = metric
        self.index = index
    }

    /// The settings that make a collection with these stored ones.
    public var creationSettings: CollectionSettings {
        CollectionSettings(dimension: dimension, metric: metric, index: index.kind, parameters: index.parameters)
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
        c.indexParameters = settings?.parameters ?? IndexParameters()
        return c
    }
}

import LynxIndex
import LynxSupport

/// Makes the index the manifest names, and decodes one from a snapshot.
enum IndexFactory {
    static func make(kind: IndexKind, dimension: Int, metric: Metric, parameters: [String: String], config: EngineConfig) -> any VectorIndex {
        switch kind {
        case .flat:
            return FlatIndex(dimension: dimension, metric: metric)
        case .hnsw:
            return HNSWIndex(
                dimension: dimension, metric: metric,
                m: parameters["m"].flatMap { Int($0) } ?? EngineConfig.defaultHNSWM,
                efConstruction: parameters["ef_construction"].flatMap { Int($0) } ?? EngineConfig.defaultHNSWEfConstruction,
                efSearch: config.hnswEfSearch,
                seed: config.hnswSeed)
        case .ivf:
            return IVFIndex(
                dimension: dimension, metric: metric,
                nClusters: parameters["n_clusters"].flatMap { Int($0) } ?? 0,
                defaultNProbe: config.ivfNProbe,
                // a manifest written before spill existed has no key: those data directories keep plain IVF-Flat
                spill: parameters["spill"].flatMap { Int($0) }.map { min(max($0, 0), IVFIndex.maxSpill) } ?? 0)
        }
    }

    /// Decodes the index structure of a snapshot (no rebuild), then applies the per-run search defaults.
    static func decode(from bytes: [UInt8], config: EngineConfig, rowSource: (any RowChunkSource)? = nil) throws -> any VectorIndex {
        var reader = BinaryReader(bytes)
        reader.rowSource = rowSource
        var index = try IndexKind.decode(from: &reader)
        if var hnsw = index as? HNSWIndex {
            hnsw.efSearch = config.hnswEfSearch
            index = hnsw
        } else if var ivf = index as? IVFIndex {
            ivf.defaultNProbe = config.ivfNProbe
            index = ivf
        }
        return index
    }

    /// Structural parameters written to the manifest at first start (a change needs a rebuild).
    static func defaultParameters(for kind: IndexKind, config: EngineConfig) -> [String: String] {
        switch kind {
        case .flat: return [:]
        case .hnsw:
            return [
                "m": String(config.hnswM ?? EngineConfig.defaultHNSWM),
                "ef_construction": String(config.hnswEfConstruction ?? EngineConfig.defaultHNSWEfConstruction),
            ]
        case .ivf:
            return ["n_clusters": String(config.ivfClusters ?? 0),
                    "spill": String(config.ivfSpill ?? IVFIndex.defaultSpill)]
        }
    }
}

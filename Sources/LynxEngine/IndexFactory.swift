import LynxIndex
import LynxSupport

/// Makes the index the manifest names, and decodes one from a snapshot.
enum IndexFactory {
    static func make(_ spec: IndexSpec, dimension: Int, metric: Metric, config: EngineConfig) -> any VectorIndex {
        switch spec {
        case .flat:
            return FlatIndex(dimension: dimension, metric: metric)
        case .hnsw(let m, let efConstruction, let quantization, let onDisk):
            var hnsw = HNSWIndex(dimension: dimension, metric: metric, m: m, efConstruction: efConstruction,
                                 efSearch: config.hnswEfSearch, seed: config.hnswSeed, quantization: quantization)
            hnsw.linksOnCodes = onDisk
            return hnsw
        case .ivf(let clusters, let spill):
            return IVFIndex(dimension: dimension, metric: metric, nClusters: clusters, defaultNProbe: config.ivfNProbe, spill: spill)
        }
    }

    /// Decodes the index structure of a snapshot (no rebuild), then applies the per-run search defaults and what
    /// the store's `spec` says of linking (an HNSW store with its vectors on disk links on its codes).
    static func decode(from bytes: [UInt8], spec: IndexSpec, config: EngineConfig,
                       rowSource: (any RowChunkSource)? = nil) throws -> any VectorIndex {
        var reader = BinaryReader(bytes)
        reader.rowSource = rowSource
        var index = try IndexKind.decode(from: &reader)
        if var hnsw = index as? HNSWIndex {
            hnsw.efSearch = config.hnswEfSearch
            hnsw.linksOnCodes = spec.onDisk
            index = hnsw
        } else if var ivf = index as? IVFIndex {
            ivf.defaultNProbe = config.ivfNProbe
            index = ivf
        }
        return index
    }
}

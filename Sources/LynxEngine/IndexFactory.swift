import LynxIndex

/// Makes and decodes the index the manifest names.
enum IndexFactory {
    static func make(kind: IndexKind, dimension: Int, metric: Metric, config: EngineConfig) -> any VectorIndex {
        switch kind {
        case .flat:
            return FlatIndex(dimension: dimension, metric: metric)
        case .hnsw, .ivf:
            // HNSW and IVF land with their own issue; the manifest refuses them until then (see DataDirectory).
            return FlatIndex(dimension: dimension, metric: metric)
        }
    }

    static func decode(kind: IndexKind, from bytes: [UInt8]) throws -> any VectorIndex {
        var reader = BinaryReader(bytes)
        switch kind {
        case .flat, .hnsw, .ivf:
            return try FlatIndex(from: &reader)
        }
    }

    /// Index kinds this build can serve.
    static let available: [IndexKind] = [.flat]
}

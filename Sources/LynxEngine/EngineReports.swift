import LynxIndex

/// The answer of `GET /stats`.
public struct StoreStats: Sendable {
    public var count: Int
    public var dimension: Int
    public var metric: Metric
    public var index: IndexKind
    public var indexParameters: [(String, String)]
    public var memory: StoreMemory
    public var inserts: UInt64
    public var deletes: UInt64
    public var searches: UInt64
    public var linking: LinkingReport
}

/// The heap a store holds, estimated part by part from what is allocated (capacity, not only the live count).
public struct StoreMemory: Sendable, Equatable {
    public enum Part: String, CaseIterable, Sendable {
        /// The index's full-precision vectors (and their inverse norms under cosine).
        case vectors
        /// The codes searched on (`Quantization`).
        case codes
        /// The index's structure: the graph (HNSW), centroids and lists (IVF), its ids and id maps, and the
        /// store's sorted ids.
        case index
        /// The pending tail: records acknowledged but not yet linked, their vectors, ids and maps.
        case pending
        /// Metadata: JSON text and typed documents.
        case metadata
        /// The metadata indexes.
        case metadataIndexes = "metadata_indexes"
    }

    public var bytes: [Part: Int]
    /// Full vectors read in place from their files (`on_disk`): file pages the kernel caches and may drop, not
    /// heap, so not a part and not in `total`.
    public var mappedVectorBytes: Int

    public init(bytes: [Part: Int], mappedVectorBytes: Int = 0) {
        self.bytes = bytes
        self.mappedVectorBytes = mappedVectorBytes
    }

    public subscript(part: Part) -> Int { bytes[part] ?? 0 }

    public var total: Int { bytes.values.reduce(0, +) }
}

/// Where the background linking of a store stands, read together under one lock.
public struct LinkingReport: Sendable, Equatable {
    /// Records acknowledged and searchable but not yet linked into the index.
    public var pending: Int
    /// Records the builder has linked since start.
    public var linked: UInt64
    /// The builder has work left: records pending, or the index's housekeeping (HNSW: consolidation of
    /// tombstones, which re-links nodes no search reaches) due or running. False: the graph is settled.
    public var behind: Bool
}

/// Where the engine is in its life.
public enum EngineStatus: Sendable, Equatable {
    case recovering(progress: Double)
    case ready
    case failed(reason: String)
}

/// The state of the log as `/health` and `/metrics` report it.
public struct LogReport: Sendable {
    public var enabled: Bool
    public var lastLSN: UInt64
    public var durableLSN: UInt64
    public var checkpointLagBytes: Int
    public var checkpointLagFrames: Int
    public var checkpointAgeSeconds: Double
    public var unsyncedBytes: Int
    public var checkpointSeq: UInt64
}

/// One search answer, with what the caller asked to include.
public struct SearchResultItem: Sendable {
    public var id: UInt64
    public var distance: Float
    public var metadata: Metadata?
    public var vector: [Float]?
}

/// What `POST /checkpoint` reports.
public struct CheckpointReport: Sendable {
    public var checkpointSeq: UInt64
    public var lsn: UInt64
    public var durationSeconds: Double
    /// Row chunk files the snapshot wrote (chunks written to since the last checkpoint) and reused.
    public var rowChunksWritten: Int = 0
    public var rowChunksReused: Int = 0
    /// Records in the snapshot.
    public var records: Int = 0
}

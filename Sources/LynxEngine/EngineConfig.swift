#if canImport(Glibc)
import Glibc
#endif
import LynxIndex
import LynxStorage

/// When an acknowledged write becomes durable (fdatasync'd). Every acknowledged write has reached the kernel's
/// page cache (a pwrite, or a copy into the mapped log) in every mode, so it survives a crash of the process;
/// these modes are about power loss.
public enum SyncMode: String, CaseIterable, Sendable {
    /// Durable on `POST /flush`, at each checkpoint, and at most `syncInterval` after acknowledgement.
    case flush
    /// A write is acknowledged only once it is durable (group commit shares one fdatasync among writers).
    case always
}

/// Everything the engine needs to open a data directory.
public struct EngineConfig: Sendable {
    public var dataDir: String = "./lynx-data"
    /// nil: the manifest's value, or 384 on first start.
    public var dimension: Int?
    public var metric: Metric?
    public var index: IndexKind?
    /// Structural index parameters (those of `index`'s kind count): unset = the manifest's, or the default
    /// (`IndexParameter.defaultValue`) on first start.
    public var indexParameters = IndexParameters()
    public var hnswEfSearch: Int = SearchParameter.efSearch.defaultValue
    public var ivfNProbe: Int = SearchParameter.nProbe.defaultValue
    public var maxBatch: Int = 10_000
    /// false: no log at all (the original library's `enable_wal = false`); data persists only through checkpoints.
    public var walEnabled: Bool = true
    public var syncMode: SyncMode = .flush
    public var syncIntervalSeconds: Double = 1

    /// Zeros the log writes ahead of its appends (docs/STORAGE_FORMATS.md, "Preallocate"), in 64 KiB pieces: appends then
    /// overwrite blocks that exist, so an fdatasync seldom carries a file-size change, and a small pwrite into a
    /// dirty cached page costs about half of an append past the end of the file (figures in BENCHMARKS.md).
    public var walPreallocationBytes: UInt64 { WALWriter.defaultPreallocationBytes }
    /// Whether the log's appends store their frames through a shared mapping of the file instead of a pwrite
    /// (docs/STORAGE_FORMATS.md, "Mapped appends", with the figures). nil: in `flush` mode only: no system call and a shorter
    /// hold of the writer lock there; under `--sync always` each fdatasync write-protects the pages just stored to.
    public var walMapAppends: Bool?
    /// `walMapAppends`, or its default for `syncMode`.
    public var usesMappedWALAppends: Bool { walMapAppends ?? (syncMode == .flush) }
    public var checkpointWALBytes: Int = 64 << 20
    /// Bytes of the newest committed transactions kept in memory for followers (`RetainedLog`); 0 keeps none.
    public var retainedLogBytes: Int = 0
    public var checkpointIntervalSeconds: Double = 300

    /// Upserts into an index that supports it (HNSW) are planned under the state's read lock, so searches keep
    /// running during the distance work, and only applied under the write lock (see `Engine`). false: each batch
    /// is applied whole under the write lock (searches wait for it); kept for comparison benchmarks.
    public var twoPhaseWrites: Bool = true

    /// Builder threads that link pending records into an HNSW graph in the background; 0: link each write before
    /// acknowledging it (the behaviour before the pending tail). Default: the number of cores.
    /// Process-wide: an engine opened with shared `EngineServices` links on their threads
    /// (`EngineServices.indexThreads`), and here only 0 versus more matters.
    public var indexThreads: Int = EngineConfig.defaultIndexThreads
    /// Most records pending (acknowledged, not yet linked) before writes wait for the builder.
    public var indexMaxPending: Int = EngineConfig.defaultIndexMaxPending
    /// Records the builder plans together (spread over `indexThreads`); at most an eighth of the graph while it
    /// is small. 32: the recall of a 2-thread build stays within 0.002 of one thread's (docs/INDEXES.md).
    public var indexBuildBatch: Int = 32
    /// Nice value of the builder threads (0: the same priority as request threads). Process-wide like
    /// `indexThreads`: with shared `EngineServices`, theirs (`EngineServices.builderNiceness`) applies.
    public var indexBuilderNiceness: Int32 = 10
    /// Starts the builder paused (`Engine.setLinkingPaused`), for tests that look at the state recovery leaves.
    public var linkingStartsPaused: Bool = false
    /// How long a write waits for room in a full tail before it is refused (503 with Retry-After).
    public var indexPendingWaitSeconds: Double = 5
    /// A filtered search whose matches the metadata indexes put at this many records or fewer scores them exactly
    /// instead of searching the index with the filter inside (docs/METADATA_INDEXES.md, "Planning").
    public var exactPlanMaxMatches: Int = 2_000
    /// Longest a clean shutdown spends on its checkpoint; past it lynxd exits with the log (already durable) to replay.
    public var shutdownCheckpointSeconds: Double = 60

    /// Seed of HNSW's level generator (nil: random), for reproducible builds.
    public var hnswSeed: UInt64?
    /// Backups kept per store: making one more removes the oldest.
    public var backupsKept: Int = 3

    public static let defaultDimension = 384
    public static let defaultMetric: Metric = .l2
    public static let defaultIndexMaxPending = 65_536
    public static var defaultIndexThreads: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public init() {}
}

import Dispatch
import Logging
import LynxIndex
import LynxStorage
import LynxSupport
import Synchronization

/// The index worker: the one place where writes are ordered, logged, applied and made durable.
///
/// Concurrency contract:
/// - Writes (`upsert`, `delete`, bulk deletes, metadata indexes, a replica's transactions) may be called from any
///   thread. They enter through `admit` and are serialised by `writerLock`:
///   validate → append to the log → apply → return the LSN. A failed append applies nothing. A batch is applied
///   under one hold of the state's write lock, so readers see all of it or none of it.
/// - Where the index is linked in the background (HNSW, `EngineConfig.indexThreads > 0`), "apply" means staging the
///   records in the state's pending tail (an exact, Flat-searched part beside the graph) and the builder thread
///   (`IndexBuilder`, `linkPending`) links them into the graph afterwards. When the tail holds
///   `indexMaxPending` records, a write waits up to `indexPendingWaitSeconds` for the builder, then throws
///   `.overloaded`. Otherwise (Flat, IVF, or `indexThreads == 0`) records go straight into the index; an index that
///   plans upserts (HNSW with `indexThreads == 0`) is planned under the READ lock, record by record, then applied.
/// - Reads (`get`, `search`, `stats`) may be called from any thread, concurrently with each other; they hold the
///   state's read lock and see the tail and the index together.
/// - Durability is asynchronous: `whenDurable` calls back from a commit thread once an LSN is fdatasync'd
///   (group commit: one fdatasync serves every writer waiting at that moment).
/// - Background work (group commit, automatic checkpoints, linking) runs on the threads of `EngineServices`,
///   shared by the process's engines.
/// - `checkpoint` may be called from any thread; one runs at a time; writes continue while it writes the snapshot.
///
/// Lock order (a lock is only taken while holding locks above it, never below):
/// 1. `backups.lock` (one backup operation at a time; a backup then checkpoints)
/// 2. `checkpointLock` (one checkpoint at a time) or `linkLock` (the builder's steps, rebuilds): never held together
/// 3. `writerLock` (orders writes; `admit` is the only way in for writes)
/// 4. `stateLock` (readers and the apply)
/// 5. leaves, which take no other lock: `statusBox`, the write gate's, the log's (`LogManager`, `WALWriter`), the
///    retained log's, the committer's, the metrics'.
public final class Engine: @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric
    public let indexKind: IndexKind
    public let config: EngineConfig
    public let metrics = EngineMetrics()
    let logger: Logger
    /// The store's id (`StoreID.rawValue`); changed only by `adoptStoreID` while the store is empty.
    private let identity: Atomic<UInt64>
    /// Whether this node takes client writes (nil: always). Set by `Database` before the engine is shared.
    var writeGate: WriteGate?

    let stateLock = ReadWriteLock()
    var state: StoreState
    /// Serialises writers (and the checkpoint's capture of the state).
    let writerLock = PlainMutex<Void>(())
    let statusBox = PlainMutex<EngineStatus>(.recovering(progress: 0))
    /// Free bytes seen when the last log append or checkpoint ran out of space (`Engine+DiskSpace.swift`).
    let diskFullMark = Atomic<UInt64>(Engine.noDiskFullMark)

    let directory: DataDirectory
    /// The store's backups (`backups/` in its folder).
    let backups: BackupDirectory
    /// Set by recovery, before the store is ready: the write-ahead log, or `MemoryLog` with `--wal off`.
    var log: any TransactionLog = MemoryLog(lastLSN: 0, safeSnapshotSeq: 0)
    var committer: Committer?
    var checkpointer: Checkpointer?
    let checkpointLock = PlainMutex<Void>(())
    /// Held by whoever mutates the index structure outside the write path: the builder's steps, rebuilds.
    let linkLock = PlainMutex<Void>(())
    var builder: IndexBuilder?
    /// The newest transactions, for followers (nil unless `config.retainedLogBytes > 0`).
    let retained: RetainedLog?
    /// The threads that commit, checkpoint and link for this engine (shared with the process's other engines).
    let services: EngineServices
    /// Whether the engine made `services` itself (and stops them when it closes).
    let ownsServices: Bool
    /// This store's long maintenance, one job at a time (`scheduleMaintenance`).
    let maintenanceQueue = DispatchQueue(label: "lynx.maintenance")

    /// Whether writes are staged in a pending tail and linked in the background (see the type's comment).
    public var linksInBackground: Bool { Self.linksInBackground(indexKind, config) }

    static func linksInBackground(_ kind: IndexKind, _ config: EngineConfig) -> Bool {
        kind == .hnsw && config.indexThreads > 0
    }

    /// Opens (or creates) the data directory: takes its lock and reconciles the manifest with the flags.
    /// Recovery is separate (`recover()`), so that the HTTP server can report progress while it runs.
    /// `io` is the file-I/O seam: tests pass a `FaultInjectingFileIO` to make appends and syncs fail.
    /// `services`: the process's shared threads; nil makes private ones from `config` (`indexThreads`,
    /// `indexBuilderNiceness`), stopped by `close`.
    public init(config: EngineConfig, logger: Logger = Logger(label: "lynx.engine"), io: FileIO = SystemFileIO(),
                services: EngineServices? = nil) throws {
        self.config = config
        self.logger = logger
        self.services = services ?? EngineServices(indexThreads: config.indexThreads, builderNiceness: config.indexBuilderNiceness)
        ownsServices = services == nil
        directory = try DataDirectory.open(config: config, io: io)
        backups = BackupDirectory(storeDirectory: directory.path, io: io)
        retained = config.retainedLogBytes > 0 ? RetainedLog(capacityBytes: config.retainedLogBytes) : nil
        identity = Atomic((directory.manifest.storeID ?? StoreID.random()).rawValue)
        dimension = directory.manifest.dimension
        metric = directory.manifest.metric
        indexKind = directory.manifest.indexKind
        state = StoreState(
            index: IndexFactory.make(directory.manifest.index, dimension: dimension, metric: metric, config: config),
            stagesWrites: Self.linksInBackground(indexKind, config))
    }

    /// Who this store is: drawn when it was created (or taken from the store it copies); every layer that remembers
    /// a store between requests keys it by this, never by its name or its engine's address.
    public var storeID: StoreID { StoreID(rawValue: identity.load(ordering: .acquiring))! }

    /// Makes this empty store a copy of the store `id`: its manifest takes the id. Throws when the store holds
    /// anything (a store with frames of its own is not another store's copy; it starts over from a snapshot).
    public func adoptStoreID(_ id: StoreID) throws {
        try writerLock.withLock { _ in
            guard log.lastLSN == 0 else {
                throw EngineError.internalError("only an empty store can take another store's id")
            }
            try directory.rewriteManifest(storeID: id)
            identity.store(id.rawValue, ordering: .releasing)
        }
    }

    /// The settings the store was created with (its manifest).
    public var storedSettings: StoredCollectionSettings {
        StoredCollectionSettings(dimension: dimension, metric: metric, index: directory.manifest.index)
    }

    // MARK: - Status

    public var status: EngineStatus { statusBox.withLock { $0 } }

    func setStatus(_ status: EngineStatus) { statusBox.withLock { $0 = status } }

    /// Throws unless the store accepts a client's write now: it is ready and this node's `writeGate` lets writes
    /// in (a follower's store refuses them itself, `EngineError.writeRefused`).
    func checkWritable() throws {
        try checkReady()
        if let refusal = writeGate?.refusal() { throw EngineError.writeRefused(refusal) }
    }

    /// Throws unless the store can be written now (a leader's transactions, a rebuild of its own index).
    func checkReady() throws {
        switch status {
        case .ready: return
        case .recovering(let progress): throw EngineError.recovering(progress: progress)
        case .failed(let reason): throw EngineError.failed(reason)
        }
    }

    func checkReadable() throws {
        if case .recovering(let progress) = status { throw EngineError.recovering(progress: progress) }
    }

    /// Stops the store from taking writes after an unrecoverable fault (a failed fsync: the kernel may have
    /// dropped the dirty pages, so retrying could falsely succeed). A restart recovers from the log.
    func failStop(_ reason: String) {
        statusBox.withLock { status in
            if case .failed = status { return }
            status = .failed(reason: reason)
        }
    }

    // MARK: - Writes

    /// Upserts one record or a batch, all or nothing. Returns the LSN of the batch's commit frame.
    public func upsert(_ records: [VectorRecord]) throws -> UInt64 {
        try checkWritable()
        for (i, record) in records.enumerated() {
            try validate(record.vector, field: .record(i))
        }
        let ops = records.map { WALOperation.upsert(id: $0.id, vector: $0.vector, metadata: $0.metadata?.json ?? []) }
        let lsn = try admit(.client, staging: records.count) {
            let lsn = try appendToLog(ops)
            // Only this thread mutates `state` (we hold writerLock), so reading it here needs no lock.
            if !linksInBackground && config.twoPhaseWrites && state.index.plansUpserts {
                for record in records {
                    let plan = stateLock.read { state.planUpsert(record) }
                    stateLock.write { state.applyUpsert(plan, record) }
                }
            } else {
                stateLock.write { for record in records { state.upsert(record) } }
            }
            return lsn
        }
        metrics.upserts.add(UInt64(records.count))
        return lsn
    }

    /// Deletes one record. Throws `.notFound` (and logs nothing) when it is absent.
    public func delete(_ id: UInt64) throws -> UInt64 {
        try checkWritable()
        let lsn = try admit(.client, staging: 1) {
            // Only the writer changes membership, and we hold the writer lock: this check stays true.
            guard stateLock.read({ state.contains(id) }) else { throw EngineError.notFound(id: id) }
            let lsn = try appendToLog([.delete(id: id)])
            stateLock.write { _ = state.remove(id) }
            return lsn
        }
        metrics.deletes.add()
        return lsn
    }

    /// Whether every write is acknowledged only once durable (`--sync always`).
    public var acknowledgesDurableOnly: Bool { config.syncMode == .always }

    /// Calls `done` once every write up to `lsn` is durable, or with the error that stopped the store; never on
    /// the caller's thread when it has to wait. Without a log, durability comes only from checkpoints: `done` runs
    /// after one, which runs as this store's maintenance.
    public func whenDurable(_ lsn: UInt64, _ done: @escaping @Sendable (Result<UInt64, EngineError>) -> Void) {
        if let committer {
            committer.waitDurable(lsn, done)
            return
        }
        scheduleMaintenance { [self] in
            do {
                let report = try checkpoint()
                done(.success(report.lsn))
            } catch let error as EngineError {
                done(.failure(error))
            } catch {
                done(.failure(.internalError("\(error)")))
            }
        }
    }

    /// The LSN of the newest transaction in the log (read without the writer lock: a write being applied may
    /// already count).
    public var lastLSN: UInt64 { log.lastLSN }

    /// Appends under the writer lock; maps storage faults to engine errors. Nothing is applied when it throws.
    func appendToLog(_ ops: [WALOperation]) throws -> UInt64 {
        do {
            let before = log.bytesWritten
            let lsn = try log.append(ops)
            retained?.append(commitLSN: lsn, ops)
            noteWriteStored()
            services.heapRelease.noteWork()
            metrics.walBytesWritten.add(UInt64(log.bytesWritten - before))
            checkpointer?.noteAppend()
            return lsn
        } catch let error as StorageError {
            throw mapAppendError(error)
        }
    }

    func mapAppendError(_ error: StorageError) -> EngineError {
        logger.error("write-ahead log append failed", metadata: ["error": "\(error)"])
        switch error {
        case .noSpace:
            noteDiskFull()
            metrics.appendErrors.add(["no_space"])
            return .noSpace("the write-ahead log is out of space: \(error.summary)")
        case .syncFailed:
            failStop("fsync of the write-ahead log failed earlier: \(error.summary)")
            return .failed("the store stopped accepting writes after a failed fsync; restart lynxd to recover from the log")
        default:
            metrics.appendErrors.add(["io"])
            return .ioFailure("the write-ahead log append failed: \(error.summary)")
        }
    }

    /// A checkpoint's storage failure, in words that say it was the checkpoint (its snapshot or the log switch).
    /// Clients get no file paths; the server's log has them.
    func mapCheckpointError(_ error: StorageError) -> EngineError {
        switch error {
        case .noSpace:
            noteDiskFull()
            return .noSpace("the checkpoint could not be written: \(error.summary); the log still holds every write")
        case .syncFailed:
            failStop("fsync failed during a checkpoint: \(error.summary)")
            return .failed("the store stopped accepting writes after a failed fsync during a checkpoint; restart lynxd to recover from the log")
        default:
            return .ioFailure("the checkpoint could not be written: \(error.summary); the log still holds every write")
        }
    }

    // MARK: - Reads

    public func get(_ id: UInt64) throws -> VectorRecord? {
        try checkReadable()
        return stateLock.read {
            guard let vector = state.vector(id) else { return nil }
            return VectorRecord(id: id, vector: vector, metadata: state.metadata[id])
        }
    }

    /// The `k` nearest records that pass `filter`, by the planner's choice (see `search(_:k:params:filter:plan:...)`).
    public func search(
        _ query: [Float], k: Int, params: SearchParams, filter: Filter?,
        includeMetadata: Bool, includeVector: Bool
    ) throws -> [SearchResultItem] {
        try search(query, k: k, params: params, filter: filter, plan: .automatic,
                   includeMetadata: includeMetadata, includeVector: includeVector).items
    }

    /// Several searches in one call, answered under one read lock; each list is what `search` returns for that
    /// query. Flat answers the whole batch in one pass over its rows (see `FlatIndex.blockedSearch`).
    public func search(
        batch queries: [[Float]], k: Int, params: SearchParams, filter: Filter?,
        includeMetadata: Bool, includeVector: Bool
    ) throws -> [[SearchResultItem]] {
        try search(batch: queries, k: k, params: params, filter: filter, plan: .automatic,
                   includeMetadata: includeMetadata, includeVector: includeVector).lists
    }

    /// Hits as answers, with metadata and vectors when asked, counted against `budget`. Call under the state's
    /// read lock.
    func items(_ hits: [SearchHit], includeMetadata: Bool, includeVector: Bool,
               budget: inout ReadBudget) throws(EngineError) -> [SearchResultItem] {
        var items: [SearchResultItem] = []
        items.reserveCapacity(hits.count)
        for hit in hits {
            let item = SearchResultItem(
                id: hit.id, distance: hit.distance,
                metadata: includeMetadata ? state.metadata[hit.id] : nil,
                vector: includeVector ? state.vector(hit.id) : nil)
            try budget.take(vector: item.vector, metadata: item.metadata)
            items.append(item)
        }
        return items
    }

    public func stats() -> StoreStats {
        stateLock.read {
            let index = state.index.memory
            let memory = StoreMemory(bytes: [
                .vectors: index.vectorBytes,
                .codes: index.codeBytes,
                .index: index.indexBytes + state.ids.memoryBytes,
                .pending: state.tail?.memoryBytes ?? 0,
                .metadata: state.metadataBytes + state.metadata.count * 48,
                .metadataIndexes: state.metadataIndexes.memoryBytes,
            ], mappedVectorBytes: index.mappedBytes)
            return StoreStats(
                count: state.count, dimension: dimension, metric: metric, index: indexKind,
                indexParameters: state.index.parameters, memory: memory,
                inserts: metrics.upserts.current, deletes: metrics.deletes.current, searches: metrics.searches.current,
                linking: linkingState)
        }
    }

    public var count: Int { stateLock.read { state.count } }

    /// Records acknowledged but not yet linked into the index (0 when the index is not linked in the background).
    public var pendingCount: Int { stateLock.read { state.pendingCount } }

    public func logReport() -> LogReport {
        log.report(checkpointAgeSeconds: checkpointer?.ageSeconds ?? 0)
    }

    // MARK: - Validation

    /// Largest squared norm accepted: with ‖a‖², ‖b‖² ≤ FLT_MAX/4, every squared L2 distance (≤ (‖a‖+‖b‖)²)
    /// and every dot product stays finite in float32, so no distance can overflow to infinity.
    public static let maxSquaredNorm = Double(Float.greatestFiniteMagnitude) / 4

    /// Smallest squared norm accepted under cosine: 2^-102 (norm 2^-51 ≈ 4.4e-16). The indexes keep 1/‖v‖ and
    /// a·b in float32; below this ‖a‖·‖b‖ can fall under FLT_MIN·2^24, and a tinier vector's float32 norm
    /// underflows to 0 (its inverse norm was then 0: every distance to it read 1.0, and a query returned nothing).
    /// Cosine ignores length, so a caller can scale such a vector up.
    public static let minCosineSquaredNorm = 0x1p-102

    /// Dimension; a norm small enough that distances stay finite; under cosine, a norm large enough to have a
    /// direction in float32.
    func validate(_ vector: [Float], field: VectorField) throws {
        guard vector.count == dimension else {
            throw EngineError.dimensionMismatch(field: field, expected: dimension, actual: vector.count)
        }
        // Four independent sums: one running sum is a chain of dependent additions (~4 cycles per component).
        let squaredNorm = vector.withUnsafeBufferPointer { p -> Double in
            var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
            var i = 0
            while i + 4 <= p.count {
                s0 += Double(p[i]) * Double(p[i])
                s1 += Double(p[i + 1]) * Double(p[i + 1])
                s2 += Double(p[i + 2]) * Double(p[i + 2])
                s3 += Double(p[i + 3]) * Double(p[i + 3])
                i += 4
            }
            while i < p.count { s0 += Double(p[i]) * Double(p[i]); i += 1 }
            return (s0 + s1) + (s2 + s3)
        }
        if squaredNorm > Self.maxSquaredNorm {
            throw EngineError.invalidVector(
                field: field,
                reason: "its norm \(squaredNorm.squareRoot()) exceeds \(Self.maxSquaredNorm.squareRoot()), the largest for which distances fit in float32")
        }
        if metric == .cosine && squaredNorm < Self.minCosineSquaredNorm {
            throw EngineError.invalidVector(field: field, reason: squaredNorm == 0
                ? "a zero vector has no direction, so cosine distance is undefined"
                : "its norm \(squaredNorm.squareRoot()) is below \(Self.minCosineSquaredNorm.squareRoot()), the smallest whose direction float32 cosine distances resolve (scale it up: cosine ignores length)")
        }
    }
}

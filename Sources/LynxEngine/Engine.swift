import Logging
import LynxIndex
import LynxJSON
import LynxStorage
import Synchronization

/// The index worker: the one place where writes are ordered, logged, applied and made durable.
///
/// Concurrency contract:
/// - Writes (`upsert`, `delete`) may be called from any thread. They are serialised by `writerLock`:
///   validate → append to the log (write(2)) → apply to the index → return the LSN. A failed append applies nothing.
/// - Reads (`get`, `search`, `stats`) may be called from any thread, concurrently with each other; they hold the
///   state's read lock, and a write holds its write lock only while applying (not while logging).
/// - Upserts into an index that plans them (HNSW; `EngineConfig.twoPhaseWrites`) are applied record by record in
///   two steps: plan under the state's READ lock (all the distance work; searches keep running), then apply under
///   the write lock (array writes only, microseconds). The plan stays valid in between because only the writer,
///   holding `writerLock`, ever mutates `state` (the index also checks this and falls back to a plain upsert).
///   So a batch becomes visible to concurrent reads record by record (a search may see part of a batch), while
///   its durability stays all-or-nothing: the batch is one log transaction, replayed whole or not at all.
///   Indexes that do not plan (Flat) apply the whole batch under one write lock, as before.
/// - Durability is asynchronous: `whenDurable` calls back from the committer thread once an LSN is fdatasync'd
///   (group commit: one fdatasync serves every writer waiting at that moment).
/// - `checkpoint` may be called from any thread; one runs at a time; writes continue while it writes the snapshot.
public final class Engine: @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric
    public let indexKind: IndexKind
    public let config: EngineConfig
    public let metrics = EngineMetrics()
    let logger: Logger

    let stateLock = ReadWriteLock()
    var state: StoreState
    /// Serialises writers (and the checkpoint's capture of the state).
    let writerLock = PlainMutex<Void>(())
    let statusBox = PlainMutex<EngineStatus>(.recovering(progress: 0))
    /// LSNs handed out when there is no log (`walEnabled == false`).
    var memoryLSN: UInt64 = 0

    let directory: DataDirectory
    var log: LogManager?
    var committer: Committer?
    var checkpointer: Checkpointer?
    let checkpointLock = PlainMutex<Void>(())

    /// Opens (or creates) the data directory: takes its lock and reconciles the manifest with the flags.
    /// Recovery is separate (`recover()`), so that the HTTP server can report progress while it runs.
    /// `io` is the file-I/O seam: tests pass a `FaultInjectingFileIO` to make appends and syncs fail.
    public init(config: EngineConfig, logger: Logger = Logger(label: "lynx.engine"), io: FileIO = SystemFileIO()) throws {
        self.config = config
        self.logger = logger
        directory = try DataDirectory.open(config: config, io: io)
        dimension = directory.manifest.dimension
        metric = directory.manifest.metric
        indexKind = directory.manifest.indexKind
        state = StoreState(index: IndexFactory.make(
            kind: indexKind, dimension: dimension, metric: metric, parameters: directory.manifest.parameters, config: config))
    }

    // MARK: - Status

    public var status: EngineStatus { statusBox.withLock { $0 } }

    func setStatus(_ status: EngineStatus) { statusBox.withLock { $0 = status } }

    /// Throws unless the store accepts writes now.
    func checkWritable() throws {
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
            try validate(record.vector, field: records.count == 1 ? "vector" : "vectors[\(i)].vector")
        }
        let ops = records.map { WALOperation.upsert(id: $0.id, vector: $0.vector, metadata: $0.metadata?.json ?? []) }
        return try writerLock.withLock { _ in
            try checkWritable()
            let lsn = try appendToLog(ops)
            // Only this thread mutates `state` (we hold writerLock), so reading it here needs no lock.
            if config.twoPhaseWrites && state.index.plansUpserts {
                for record in records {
                    let plan = stateLock.read { state.planUpsert(record) }
                    stateLock.write { state.applyUpsert(plan, record) }
                }
            } else {
                stateLock.write {
                    for record in records { state.upsert(record) }
                }
            }
            metrics.upserts.add(UInt64(records.count))
            return lsn
        }
    }

    /// Deletes one record. Throws `.notFound` (and logs nothing) when it is absent.
    public func delete(_ id: UInt64) throws -> UInt64 {
        try checkWritable()
        return try writerLock.withLock { _ in
            try checkWritable()
            // Only the writer changes membership, and we hold the writer lock: this check stays true.
            guard stateLock.read({ state.index.contains(id) }) else { throw EngineError.notFound(id: id) }
            let lsn = try appendToLog([.delete(id: id)])
            stateLock.write { _ = state.remove(id) }
            metrics.deletes.add()
            return lsn
        }
    }

    /// Calls `done` once every write up to `lsn` is durable, or with the error that stopped the store.
    /// Without a log, durability comes only from checkpoints: `done` runs after one.
    public func whenDurable(_ lsn: UInt64, _ done: @escaping @Sendable (Result<UInt64, EngineError>) -> Void) {
        if let committer {
            committer.waitDurable(lsn, done)
        } else {
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

    /// The LSN of the newest acknowledged write.
    public var lastLSN: UInt64 {
        writerLock.withLock { _ in log?.lastLSN ?? memoryLSN }
    }

    /// Appends under the writer lock; maps storage faults to engine errors. Nothing is applied when it throws.
    private func appendToLog(_ ops: [WALOperation]) throws -> UInt64 {
        guard let log else {
            memoryLSN += 1
            return memoryLSN
        }
        do {
            let before = log.bytesWritten
            let lsn = try log.append(ops)
            metrics.walBytesWritten.add(UInt64(log.bytesWritten - before))
            checkpointer?.noteAppend()
            return lsn
        } catch let error as StorageError {
            throw mapAppendError(error)
        }
    }

    func mapAppendError(_ error: StorageError) -> EngineError {
        switch error {
        case .noSpace:
            metrics.appendErrors.add(["no_space"])
            return .noSpace("the write-ahead log is out of space: \(error)")
        case .syncFailed:
            failStop("fsync of the write-ahead log failed earlier: \(error)")
            return .failed("the store stopped accepting writes after a failed fsync; restart lynxd to recover from the log")
        default:
            metrics.appendErrors.add(["io"])
            return .ioFailure("the write-ahead log append failed: \(error)")
        }
    }

    // MARK: - Reads

    public func get(_ id: UInt64) throws -> VectorRecord? {
        try checkReadable()
        return stateLock.read {
            guard let vector = state.index.vector(id) else { return nil }
            return VectorRecord(id: id, vector: vector, metadata: state.metadata[id])
        }
    }

    public func search(
        _ query: [Float], k: Int, params: SearchParams, filter: [(key: String, value: JSONValue)]?,
        includeMetadata: Bool, includeVector: Bool
    ) throws -> [SearchResultItem] {
        try checkReadable()
        try validate(query, field: "vector")
        metrics.searches.add()
        return stateLock.read {
            let hits = query.withUnsafeBufferPointer {
                state.index.search($0, k: k, params: params, filter: predicate(filter, state.metadata))
            }
            return items(hits, includeMetadata: includeMetadata, includeVector: includeVector)
        }
    }

    /// Several searches in one call, answered under one read lock; each list is what `search` returns for that
    /// query. Flat answers the whole batch in one pass over its rows (see `FlatIndex.blockedSearch`).
    public func search(
        batch queries: [[Float]], k: Int, params: SearchParams, filter: [(key: String, value: JSONValue)]?,
        includeMetadata: Bool, includeVector: Bool
    ) throws -> [[SearchResultItem]] {
        try checkReadable()
        for (i, query) in queries.enumerated() { try validate(query, field: "queries[\(i)]") }
        metrics.searches.add(UInt64(queries.count))
        let packed = Array(queries.joined())
        return stateLock.read {
            let lists = packed.withUnsafeBufferPointer {
                state.index.search(batch: $0, count: queries.count, k: k, params: params,
                                   filter: predicate(filter, state.metadata))
            }
            return lists.map { items($0, includeMetadata: includeMetadata, includeVector: includeVector) }
        }
    }

    /// The metadata filter as an id predicate over `metadata` (nil: no filter).
    private func predicate(_ filter: [(key: String, value: JSONValue)]?,
                           _ metadata: [UInt64: Metadata]) -> ((UInt64) -> Bool)? {
        filter.map { wanted in { id in metadata[id]?.matches(wanted) ?? false } }
    }

    /// Hits as answers, with metadata and vectors when asked. Call under the state's read lock.
    private func items(_ hits: [SearchHit], includeMetadata: Bool, includeVector: Bool) -> [SearchResultItem] {
        hits.map { hit in
            SearchResultItem(
                id: hit.id, distance: hit.distance,
                metadata: includeMetadata ? state.metadata[hit.id] : nil,
                vector: includeVector ? state.index.vector(hit.id) : nil)
        }
    }

    public func stats() -> StoreStats {
        stateLock.read {
            let memory = state.index.memory
            return StoreStats(
                count: state.index.count, dimension: dimension, metric: metric, index: indexKind,
                indexParameters: state.index.parameters,
                vectorBytes: memory.vectorBytes, indexBytes: memory.indexBytes,
                metadataBytes: state.metadataBytes + state.metadata.count * 48,
                inserts: metrics.upserts.current, deletes: metrics.deletes.current, searches: metrics.searches.current)
        }
    }

    public var count: Int { stateLock.read { state.index.count } }

    public func logReport() -> LogReport {
        guard let log else {
            return LogReport(
                enabled: false, lastLSN: memoryLSN, durableLSN: 0, checkpointLagBytes: 0, checkpointLagFrames: 0,
                checkpointAgeSeconds: checkpointer?.ageSeconds ?? 0, unsyncedBytes: 0, checkpointSeq: directory.lastSnapshotSeq)
        }
        return log.report(checkpointAgeSeconds: checkpointer?.ageSeconds ?? 0)
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
    func validate(_ vector: [Float], field: String) throws {
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

import LynxStorage
import LynxSupport
import Synchronization

/// The engine's log: two WAL files, `wal-0.log` and `wal-1.log`, used by alternate generations.
///
/// Generation g (the header's checkpoint sequence) holds the writes made after the state captured by
/// snapshot g. A checkpoint that starts while generation g is current switches the writers to generation
/// g+1 (in the other file) and writes snapshot g+1 of the state at the switch; once that snapshot is safe,
/// generation g is dead and its file is reused by generation g+2. Writes never wait for a snapshot.
/// If a checkpoint fails after the switch, the next one writes snapshot g+1 again (of the then-current
/// state, so it also covers part of generation g+1; replay skips frames at or below a snapshot's LSN)
/// before any further switch, so a file is never reused while its frames are still needed.
///
/// Threads: `append` and `switchGeneration` are called under the engine's writer lock; `sync` from the
/// committer thread concurrently with `append`; the counters from anywhere.
final class LogManager: TransactionLog, @unchecked Sendable {
    let directory: String
    let io: FileIO
    /// Files above this size are truncated when a generation reuses them.
    let truncateAbove: UInt64
    /// Passed to each generation's writer (see `EngineConfig.walPreallocationBytes`).
    let preallocationBytes: UInt64
    /// Passed to each generation's writer (see `EngineConfig.usesMappedWALAppends`).
    let mapAppends: Bool

    private struct Current {
        var writer: WALWriter
        /// Bytes and frames of the previous generation not yet covered by a safe snapshot.
        var pendingBytes: UInt64
        var pendingFrames: Int
        /// End offset of the current generation known fdatasync'd.
        var syncedOffset: UInt64
    }
    private let current: PlainMutex<Current>
    /// Highest snapshot sequence known durable.
    private let safeSnapshotSeq = Atomic<UInt64>(0)
    /// Bytes appended through this manager (for the metrics).
    private let appended = Atomic<UInt64>(0)

    static func fileName(generation: UInt64) -> String { "wal-\(generation % 2).log" }
    /// Both files, `wal-0.log` and `wal-1.log`.
    static let fileNames = [fileName(generation: 0), fileName(generation: 1)]

    init(directory: String, io: FileIO, writer: WALWriter, previousGenerationBytes: UInt64, previousGenerationFrames: Int,
         safeSnapshotSeq: UInt64, truncateAbove: UInt64, preallocationBytes: UInt64, mapAppends: Bool) {
        self.directory = directory
        self.io = io
        self.truncateAbove = truncateAbove
        self.preallocationBytes = preallocationBytes
        self.mapAppends = mapAppends
        current = PlainMutex(Current(
            writer: writer, pendingBytes: previousGenerationBytes, pendingFrames: previousGenerationFrames,
            syncedOffset: writer.endOffset))
        self.safeSnapshotSeq.store(safeSnapshotSeq, ordering: .relaxed)
    }

    var writer: WALWriter { current.withLock { $0.writer } }
    var generation: UInt64 { writer.checkpointSeq }
    var writesAhead: Bool { true }
    var lastLSN: UInt64 { writer.lastLSN }
    var durableLSN: UInt64 { writer.durableLSN }
    var bytesWritten: UInt64 { appended.load(ordering: .relaxed) }

    /// Appends one transaction; see `WALWriter.append`.
    func append(_ ops: [WALOperation]) throws -> UInt64 {
        let w = writer
        let before = w.endOffset
        let lsn = try w.append(ops)
        appended.add(w.endOffset &- before, ordering: .relaxed)
        return lsn
    }

    /// fdatasyncs the current generation; returns the LSN now durable.
    func sync() throws -> UInt64 {
        let w = writer
        let end = w.endOffset
        let durable = try w.sync()
        current.withLock { c in
            if c.writer === w { c.syncedOffset = max(c.syncedOffset, end) }
        }
        return durable
    }

    /// True when the file of the previous generation may be overwritten (a snapshot covers it).
    var canSwitch: Bool { safeSnapshotSeq.load(ordering: .relaxed) >= generation }

    /// The snapshot to write covers every transaction so far; it is the next generation's when the previous
    /// generation's file is free (the switch happens now), else the current one's again (see the type's comment).
    func startCheckpoint() throws -> (seq: UInt64, lsn: UInt64) {
        let lsn = lastLSN
        return (canSwitch ? try switchGeneration() : generation, lsn)
    }

    /// Starts generation g+1 in the other file. Called under the writer lock, so no append races it.
    /// The old generation is fdatasync'd first: until the new snapshot is safe, recovery needs it.
    /// Returns the new generation number.
    func switchGeneration() throws -> UInt64 {
        let old = writer
        _ = try old.sync()
        let next = old.checkpointSeq + 1
        let path = joinPath(directory, Self.fileName(generation: next))
        let fresh = try WALWriter(reusing: path, checkpointSeq: next, firstLSN: old.lastLSN + 1, truncateAbove: truncateAbove,
                                  preallocationBytes: preallocationBytes, mapAppends: mapAppends, io: io)
        current.withLock {
            $0.pendingBytes = old.bytesSinceReset
            $0.pendingFrames = old.frameCount
            $0.writer = fresh
            $0.syncedOffset = fresh.endOffset
        }
        try? old.close()
        return next
    }

    /// A snapshot with sequence `seq` is durable: the generations before it are dead.
    func snapshotIsSafe(seq: UInt64) {
        safeSnapshotSeq.store(seq, ordering: .relaxed)
        current.withLock { c in
            if seq >= c.writer.checkpointSeq {
                c.pendingBytes = 0
                c.pendingFrames = 0
            }
        }
    }

    func report(checkpointAgeSeconds: Double) -> LogReport {
        current.withLock { c in
            let w = c.writer
            let last = w.lastLSN
            let durable = w.durableLSN
            return LogReport(
                enabled: true, lastLSN: last, durableLSN: durable,
                checkpointLagBytes: Int(c.pendingBytes + w.bytesSinceReset),
                checkpointLagFrames: c.pendingFrames + w.frameCount,
                checkpointAgeSeconds: checkpointAgeSeconds,
                unsyncedBytes: Int(w.endOffset &- min(c.syncedOffset, w.endOffset)),
                checkpointSeq: safeSnapshotSeq.load(ordering: .relaxed))
        }
    }

    func close() {
        try? writer.close()
    }
}

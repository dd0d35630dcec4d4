import LynxStorage
import Synchronization

/// Where the engine's transactions go, in LSN order: the write-ahead log (`LogManager`), or with `--wal off` a
/// count of LSNs that writes nothing (`MemoryLog`). The engine holds one or the other and never asks which, except
/// where a store cannot work without a log on disk (`writesAhead`: a replica).
///
/// Threads: `append`, `startCheckpoint` and `close` under the engine's writer lock; `sync` from the committer
/// thread concurrently with `append`; the counters and the report from anywhere, without the writer lock.
protocol TransactionLog: AnyObject, Sendable {
    /// True when transactions are written to disk before they are applied (the write-ahead log).
    var writesAhead: Bool { get }
    /// The LSN of the newest transaction appended.
    var lastLSN: UInt64 { get }
    /// Every transaction up to this LSN is fdatasync'd (0 without a log on disk).
    var durableLSN: UInt64 { get }
    /// Bytes appended so far (for the metrics and the checkpointer's byte threshold).
    var bytesWritten: UInt64 { get }

    /// Appends one transaction and returns the LSN of its commit frame. Nothing is appended when it throws.
    func append(_ ops: [WALOperation]) throws -> UInt64
    /// Makes every appended transaction durable; returns the LSN now durable.
    func sync() throws -> UInt64
    /// The capture of a checkpoint: the sequence number of the snapshot to write and the LSN it covers, switching
    /// to the next log generation when the previous one is free.
    func startCheckpoint() throws -> (seq: UInt64, lsn: UInt64)
    /// The snapshot `seq` is durable: what the log held before it is no longer needed.
    func snapshotIsSafe(seq: UInt64)
    /// The state of the log for `/health` and `/metrics`.
    func report(checkpointAgeSeconds: Double) -> LogReport
    func close()
}

/// The log of a store without one (`--wal off`): LSNs are counted and nothing is written; a write is durable
/// only once a checkpoint has written a snapshot that covers it.
final class MemoryLog: TransactionLog {
    private let last: Atomic<UInt64>
    private let safeSnapshotSeq: Atomic<UInt64>

    /// `lastLSN`: the newest transaction recovered; `safeSnapshotSeq`: the newest snapshot on disk.
    init(lastLSN: UInt64, safeSnapshotSeq: UInt64) {
        last = Atomic(lastLSN)
        self.safeSnapshotSeq = Atomic(safeSnapshotSeq)
    }

    var writesAhead: Bool { false }
    var lastLSN: UInt64 { last.load(ordering: .acquiring) }
    var durableLSN: UInt64 { 0 }
    var bytesWritten: UInt64 { 0 }

    func append(_ ops: [WALOperation]) throws -> UInt64 {
        last.add(1, ordering: .releasing).newValue
    }

    func sync() throws -> UInt64 { 0 }

    func startCheckpoint() throws -> (seq: UInt64, lsn: UInt64) {
        (safeSnapshotSeq.load(ordering: .relaxed) + 1, lastLSN)
    }

    func snapshotIsSafe(seq: UInt64) {
        safeSnapshotSeq.store(seq, ordering: .relaxed)
    }

    func report(checkpointAgeSeconds: Double) -> LogReport {
        LogReport(enabled: false, lastLSN: lastLSN, durableLSN: 0, checkpointLagBytes: 0, checkpointLagFrames: 0,
                  checkpointAgeSeconds: checkpointAgeSeconds, unsyncedBytes: 0,
                  checkpointSeq: safeSnapshotSeq.load(ordering: .relaxed))
    }

    func close() {}
}

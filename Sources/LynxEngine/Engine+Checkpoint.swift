import Logging
import LynxStorage
import LynxSupport

extension Engine {
    /// Writes a snapshot of the whole state and retires the log generation it covers. Writes go on meanwhile:
    /// they hold the writer lock only for the O(1) capture of the state (copy-on-write) and the switch of
    /// log files. One checkpoint runs at a time; a second caller waits for the first.
    @discardableResult
    public func checkpoint() throws -> CheckpointReport {
        try checkpoint(thenHolding: { _ in }).report
    }

    /// A checkpoint, then `retain` run before the checkpoint lock is let go: while it runs, no other checkpoint
    /// can delete the files this one's snapshot uses (a backup links them).
    func checkpoint<T>(thenHolding retain: (CheckpointReport) throws -> T) throws -> (report: CheckpointReport, retained: T) {
        try checkReadable()
        if case .failed(let reason) = status { throw EngineError.failed(reason) }
        return try checkpointLock.withLock { _ in
            let started = monotonicSeconds()
            let report: CheckpointReport
            do {
                report = try runCheckpoint(started: started)
                noteWriteStored()
                services.heapRelease.noteWork()
                metrics.checkpoints.add(["success"])
                metrics.checkpointDuration.observe(report.durationSeconds)
                logger.info("checkpoint done", metadata: [
                    "seq": "\(report.checkpointSeq)", "lsn": "\(report.lsn)",
                    "row_chunks_written": "\(report.rowChunksWritten)", "row_chunks_reused": "\(report.rowChunksReused)",
                    "seconds": "\((report.durationSeconds * 1000).rounded() / 1000)",
                ])
            } catch {
                metrics.checkpoints.add(["failure"])
                logger.error("checkpoint failed: \(error)")
                if let storage = error as? StorageError { throw mapCheckpointError(storage) }
                throw error
            }
            return (report, try retain(report))
        }
    }

    private func runCheckpoint(started: Double) throws -> CheckpointReport {
        // 1. Capture: the state and its LSN, and (when the old file is free) a switch to the next generation.
        let (captured, seq, lsn): (StoreState, UInt64, UInt64) = try writerLock.withLock { _ in
            let copy = stateLock.read { state }
            let (seq, lsn) = try log.startCheckpoint()
            return (copy, seq, lsn)
        }
        // 2. Serialise and write the snapshot (temp file, fsync, rename, directory fsync) with writes flowing.
        //    The vectors go to row chunk files: only the chunks written to since the last checkpoint are written.
        let chunks = try directory.writeSnapshot(of: captured, seq: seq, lastLSN: lsn)
        // 3. The snapshot is safe: older generations, snapshots and the chunk files only they used are dead.
        directory.lastSnapshotSeq = seq
        log.snapshotIsSafe(seq: seq)
        checkpointer?.didCheckpoint(lsn: lsn)
        directory.removeOlderThan(snapshot: seq, logger: logger)
        if directory.rowChunks.mapsVectors { mapStoredVectors() }
        metrics.checkpointRowChunks.add(["written"], UInt64(chunks.written))
        metrics.checkpointRowChunks.add(["reused"], UInt64(chunks.reused))
        return CheckpointReport(checkpointSeq: seq, lsn: lsn, durationSeconds: monotonicSeconds() - started,
                                rowChunksWritten: chunks.written, rowChunksReused: chunks.reused, records: captured.count)
    }

    /// Full vectors on disk: the chunks this checkpoint stored, unchanged since, are read in place from their files
    /// from now on, and their memory goes back. A chunk that cannot be mapped stays in memory (logged); the
    /// snapshot is safe either way.
    private func mapStoredVectors() {
        do {
            let mapped = try stateLock.write { try state.index.mapStoredVectors(using: directory.rowChunks) }
            if mapped > 0 { logger.debug("vectors mapped from their files", metadata: ["row_chunks": "\(mapped)"]) }
        } catch {
            logger.error("could not map the stored vectors; they stay in memory until the next checkpoint", metadata: ["error": "\(error)"])
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import LynxStorage

/// Online backups of the store (docs/BACKUP.md). A backup is a checkpoint's snapshot: the checkpoint captures
/// the state at one LSN (pending HNSW records and metadata index definitions included), and before the
/// checkpoint lock is let go the snapshot, its row chunk files and the manifest are hard-linked into
/// `backups/.staging`, so no later checkpoint can delete them while they are copied into the archive. Writes go
/// on throughout; they pause only for the checkpoint's O(1) capture.
///
/// Threads: any; one backup operation (make, list, open, delete) at a time per store.
extension Engine {
    /// Makes a backup named `requested` (or `<UTC time>-lsn<L>`), then (with `rotate`) removes the oldest beyond
    /// `config.backupsKept`. Throws `BackupError.alreadyExists`, or the checkpoint's and the archive's failures
    /// as `EngineError`s (nothing of a failed backup remains).
    public func createBackup(named requested: BackupName? = nil, rotate: Bool = true) throws -> BackupSummary {
        try backups.lock.withLock { _ in
            if let requested, backups.exists(requested) { throw BackupError.alreadyExists(requested) }
            do {
                let (report, staged) = try checkpoint(thenHolding: { report in
                    try backups.stage(storeFiles(snapshotSeq: report.checkpointSeq), from: directory.path)
                })
                let info = BackupInfo(
                    createdUnixMillis: wallClockMillis(), lsn: report.lsn, checkpointSeq: report.checkpointSeq,
                    records: UInt64(report.records), dimension: dimension, metric: metric.rawValue, indexType: indexKind.rawValue,
                    files: [])
                let name = requested ?? freeName(for: info)
                let summary = try backups.write(name, info: info, staged: staged)
                if rotate { backups.rotate(keep: config.backupsKept, logger: logger) }
                logger.info("backup made", metadata: [
                    "backup": "\(name)", "lsn": "\(summary.lsn)", "records": "\(summary.records)", "bytes": "\(summary.bytes)",
                ])
                return summary
            } catch let error as StorageError {
                backups.discardStaging()
                logger.error("backup failed: \(error)")
                throw mapBackupError(error, "the backup could not be made")
            } catch {
                backups.discardStaging()
                throw error
            }
        }
    }

    /// The store's backups, oldest first.
    public func listBackups() throws -> [BackupSummary] {
        try backups.lock.withLock { _ in
            do { return try backups.list(logger: logger) } catch let error as StorageError { throw mapBackupError(error, "the backups could not be listed") }
        }
    }

    /// The backup's archive, open for reading (the caller closes `fd`). Throws `BackupError.notFound`.
    public func openBackup(_ name: BackupName) throws -> OpenedBackup {
        try backups.lock.withLock { _ in
            do {
                guard let opened = try backups.open(name) else { throw BackupError.notFound(name) }
                return opened
            } catch let error as StorageError {
                throw mapBackupError(error, "the backup could not be opened")
            }
        }
    }

    /// Removes the backup durably. Throws `BackupError.notFound`.
    public func deleteBackup(_ name: BackupName) throws {
        try backups.lock.withLock { _ in
            do {
                guard try backups.delete(name) else { throw BackupError.notFound(name) }
            } catch let error as StorageError {
                throw mapBackupError(error, "the backup could not be deleted")
            }
            logger.info("backup deleted", metadata: ["backup": "\(name)"])
        }
    }

    /// The files a store at snapshot `seq` consists of, relative to its folder: the manifest, the snapshot,
    /// and the row chunk files the snapshot refers to (the last checkpoint's).
    private func storeFiles(snapshotSeq seq: UInt64) -> [String] {
        let terms = directory.io.fileExists(joinPath(directory.path, StoreFileName.termHistory)) ? [StoreFileName.termHistory] : []
        return [Manifest.fileName, SnapshotFile.fileName(checkpointSeq: seq)] + terms + directory.rowChunks.lastPassFiles
    }

    /// `<UTC yyyymmddThhmmssZ>-lsn<L>`, with `-2`, `-3`... when a backup of that name exists.
    private func freeName(for info: BackupInfo) -> BackupName {
        var seconds = time_t(info.createdUnixMillis / 1000)
        var t = tm()
        gmtime_r(&seconds, &t)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let base = "\(t.tm_year + 1900)\(two(t.tm_mon + 1))\(two(t.tm_mday))T\(two(t.tm_hour))\(two(t.tm_min))\(two(t.tm_sec))Z-lsn\(info.lsn)"
        var candidate = BackupName(base)!
        var n = 1
        while backups.exists(candidate) {
            n += 1
            candidate = BackupName("\(base)-\(n)")!
        }
        return candidate
    }

    private func wallClockMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec / 1_000_000)
    }

    /// A backup's storage failure, worded without paths (the log has them); the store itself is never changed.
    private func mapBackupError(_ error: StorageError, _ what: String) -> EngineError {
        if case .noSpace = error { return .noSpace("\(what): \(error.summary)") }
        return .ioFailure("\(what): \(error.summary)")
    }
}

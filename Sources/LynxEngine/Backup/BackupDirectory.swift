import Logging
import LynxStorage
import LynxSupport

/// A store's backups: `<store folder>/backups/<name>.tar`, one archive each (`BackupArchive`, docs/BACKUP.md).
///
///     backups/<name>.tar     a finished backup (the only entries listed)
///     backups/.staging/      links to the files of the backup being made (removed when it is written)
///     backups/.<name>.tar.tmp  the archive being written (renamed to <name>.tar once durable)
///
/// Entries starting with '.' are never listed; `removeUnfinished` (at recovery) deletes those a crash left.
/// The store's own files are never touched here: staging holds hard links to them, so a checkpoint that deletes
/// an old snapshot or row chunk file meanwhile removes one name, and the backup keeps reading the other.
///
/// Threads: callers hold `lock` around every call (one backup operation at a time per store).
final class BackupDirectory: @unchecked Sendable {
    static let folderName = "backups"
    static let stagingName = ".staging"
    static let archiveSuffix = ".tar"

    let path: String
    let io: FileIO
    let lock = PlainMutex<Void>(())

    init(storeDirectory: String, io: FileIO) {
        path = joinPath(storeDirectory, Self.folderName)
        self.io = io
    }

    var stagingPath: String { joinPath(path, Self.stagingName) }

    func archivePath(_ name: BackupName) -> String { joinPath(path, name.value + Self.archiveSuffix) }

    func exists(_ name: BackupName) -> Bool { io.fileExists(archivePath(name)) }

    /// Deletes what an interrupted backup left (staging links, temporary archives).
    func removeUnfinished(logger: Logger) {
        guard io.fileExists(path) else { return }
        do {
            var removed = false
            for entry in try io.listDirectory(path) where entry.hasPrefix(".") {
                try io.removeTree(joinPath(path, entry))
                removed = true
                logger.notice("removed what an interrupted backup left", metadata: ["entry": "\(entry)"])
            }
            if removed { try io.fsyncDirectory(path) }
        } catch {
            logger.warning("could not remove what an interrupted backup left: \(error)")
        }
    }

    /// Links `files` (paths relative to `storeDirectory`) into a fresh staging folder; returns the staged
    /// sources for `BackupArchive.write`. Called while no checkpoint can delete them.
    func stage(_ files: [String], from storeDirectory: String) throws -> [(name: String, path: String)] {
        if !io.fileExists(path) {
            try io.createDirectory(path)
            try io.fsyncDirectory(storeDirectory)
        }
        discardStaging()
        try io.createDirectory(stagingPath)
        var staged: [(name: String, path: String)] = []
        for file in files {
            if let slash = file.lastIndex(of: "/") {
                try io.createDirectory(joinPath(stagingPath, String(file[..<slash])))
            }
            let link = joinPath(stagingPath, file)
            try io.link(joinPath(storeDirectory, file), to: link)
            staged.append((file, link))
        }
        return staged
    }

    func discardStaging() {
        try? io.removeTree(stagingPath)
    }

    /// Writes the archive of the staged files, durably, then drops the staging links.
    func write(_ name: BackupName, info: BackupInfo, staged: [(name: String, path: String)]) throws -> BackupSummary {
        defer { discardStaging() }
        let (written, bytes) = try BackupArchive.write(to: archivePath(name), info: info, sources: staged, io: io)
        return summary(name, written, bytes: bytes)
    }

    /// Finished backups, oldest first. An archive whose `BACKUP` entry cannot be read is logged and left out.
    func list(logger: Logger) throws -> [BackupSummary] {
        guard io.fileExists(path) else { return [] }
        var found: [BackupSummary] = []
        for entry in try io.listDirectory(path) where entry.hasSuffix(Self.archiveSuffix) {
            guard let name = BackupName(String(entry.dropLast(Self.archiveSuffix.count))) else { continue }
            do {
                let file = try io.open(archivePath(name), mode: .readOnly)
                let bytes: UInt64
                do { bytes = try io.fileSize(file) } catch { try? io.close(file); throw error }
                try? io.close(file)
                found.append(summary(name, try BackupArchive.readInfo(path: archivePath(name), io: io), bytes: bytes))
            } catch {
                logger.warning("a backup archive cannot be read; not listed", metadata: ["file": "\(entry)", "error": "\(error)"])
            }
        }
        return found.sorted { ($0.createdUnixMillis, $0.name) < ($1.createdUnixMillis, $1.name) }
    }

    /// Opens the archive for reading; nil when there is none of that name.
    func open(_ name: BackupName) throws -> OpenedBackup? {
        guard exists(name) else { return nil }
        let file = try io.open(archivePath(name), mode: .readOnly)
        do {
            return OpenedBackup(fd: file.fd, bytes: try io.fileSize(file))
        } catch {
            try? io.close(file)
            throw error
        }
    }

    /// Removes the archive durably; false when there was none.
    func delete(_ name: BackupName) throws -> Bool {
        guard exists(name) else { return false }
        try io.unlink(archivePath(name))
        try io.fsyncDirectory(path)
        return true
    }

    /// Deletes the oldest backups beyond the newest `keep`.
    func rotate(keep: Int, logger: Logger) {
        do {
            let all = try list(logger: logger)
            for old in all.dropLast(keep) {
                _ = try delete(old.name)
                logger.info("removed an old backup beyond the number kept", metadata: ["backup": "\(old.name)"])
            }
        } catch {
            logger.warning("could not remove old backups: \(error)")
        }
    }

    private func summary(_ name: BackupName, _ info: BackupInfo, bytes: UInt64) -> BackupSummary {
        BackupSummary(name: name, lsn: info.lsn, checkpointSeq: info.checkpointSeq, records: info.records, bytes: bytes,
                      createdUnixMillis: info.createdUnixMillis)
    }
}

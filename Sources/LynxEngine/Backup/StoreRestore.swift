import Logging
import LynxStorage

/// Installs a backup archive (`BackupArchive`) as a store of a data directory that no lynxd is using: the
/// default collection (the directory's root) or a named collection (`collections/<name>/`). `lynxd restore`.
///
/// Order, so that nothing is written before the archive is known good and a crash at any point leaves either
/// the old state, or a state lynxd refuses to start from and a second run of the restore completes:
/// 1. Verify the whole archive (every header, size and CRC-32C). Nothing has been written yet.
/// 2. Take the data directory's lock (a running lynxd holds it: refused).
/// 3. Default collection: unpack into `<dir>/.restore/` (each file and directory fsynced). While `.restore`
///    exists lynxd refuses to open the directory (`EngineError.unfinishedRestore`). Remove the old store's files
///    (only when replacing), rename the unpacked files into place (`rows/`, the snapshot, `MANIFEST` last),
///    fsync the directory, remove `.restore`, fsync again.
///    Named collection: unpack into `collections/.creating-<name>/` and rename it to `<name>`, the way a
///    collection is created (`CollectionFiles`: an unfinished one is removed at the next start). Replacing an
///    existing collection deletes it just before that rename.
///
/// The restored store holds no log: lynxd starts it from the snapshot and its log continues after the backup's LSN.
public enum StoreRestore {
    /// The folder a restore into a data directory's root unpacks into; its presence marks an unfinished restore.
    public static let stagingName = ".restore"

    public struct Report: Sendable {
        public var info: BackupInfo
        /// The folder the store now lives in.
        public var storeDirectory: String
        /// A store was there before and was replaced.
        public var replaced: Bool
        public var archiveBytes: UInt64
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The archive failed verification; nothing was written.
        case damagedArchive(String)
        /// The archive could not be read; nothing was written.
        case unreadableArchive(String)
        /// A store is there and replacing it was not asked for; nothing was written.
        case storeExists(path: String)
        /// A running process holds the data directory's lock; nothing was written.
        case directoryInUse(path: String, pid: Int32)
        /// Writing failed part way (what is on disk: see the type's comment; running the restore again completes it).
        case writeFailed(String)

        public var description: String {
            switch self {
            case .damagedArchive(let why): return "the archive is damaged (\(why)); nothing was written"
            case .unreadableArchive(let why): return "the archive cannot be read (\(why)); nothing was written"
            case .storeExists(let path): return "\(path) already holds a store; nothing was written"
            case .directoryInUse(let path, let pid): return "process \(pid) holds the lock of \(path); nothing was written"
            case .writeFailed(let why): return "writing the restored store failed: \(why)"
            }
        }
    }

    /// `takeLock: false` is for a caller that holds the data directory's lock itself and has closed the store
    /// being replaced (`Database.replaceStore`).
    public static func restore(archive: String, dataDir: String, collection: CollectionName = .default, replace: Bool,
                               io: FileIO = SystemFileIO(), logger: Logger, takeLock: Bool = true) throws(Failure) -> Report {
        let verified: BackupArchive.Verified
        do {
            verified = try BackupArchive.verify(path: archive, io: io)
        } catch StorageError.corrupt(let why) {
            throw .damagedArchive(why)
        } catch {
            throw .unreadableArchive("\(error)")
        }
        var lock: DirectoryLock?
        do {
            if !io.fileExists(dataDir) {
                try io.createDirectory(dataDir)
                try io.fsyncDirectory(parentDirectory(of: dataDir))
            }
            if takeLock { lock = try DirectoryLock.acquire(dir: dataDir) }
        } catch StorageError.locked(let pid, _) {
            throw .directoryInUse(path: dataDir, pid: pid)
        } catch {
            throw .writeFailed("\(error)")
        }
        defer { lock?.release() }
        do {
            let (path, replaced) = collection == .default
                ? try installInRoot(verified, archive: archive, dataDir: dataDir, replace: replace, io: io)
                : try installAsCollection(verified, archive: archive, dataDir: dataDir, name: collection, replace: replace,
                                          io: io, logger: logger)
            return Report(info: verified.info, storeDirectory: path, replaced: replaced, archiveBytes: verified.archiveBytes)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .writeFailed("\(error)")
        }
    }

    private static func installInRoot(_ verified: BackupArchive.Verified, archive: String, dataDir: String, replace: Bool,
                                      io: FileIO) throws -> (String, Bool) {
        let staging = joinPath(dataDir, stagingName)
        let unfinished = io.fileExists(staging)
        let old = try io.listDirectory(dataDir).filter(isStoreEntry)
        // An unfinished restore's target is ours to complete, whatever it holds.
        if !old.isEmpty && !unfinished && !replace { throw Failure.storeExists(path: dataDir) }
        if unfinished { try io.removeTree(staging) }
        try io.createDirectory(staging)
        try io.fsyncDirectory(dataDir)  // from here until the end, lynxd refuses this directory
        try BackupArchive.extract(verified, from: archive, into: staging, io: io)
        for entry in old { try io.removeTree(joinPath(dataDir, entry)) }
        let unpacked = try io.listDirectory(staging).sorted { installOrder($0) < installOrder($1) }
        for entry in unpacked { try io.rename(joinPath(staging, entry), to: joinPath(dataDir, entry)) }
        try io.fsyncDirectory(dataDir)
        try io.removeDirectory(staging)
        try io.fsyncDirectory(dataDir)
        return (dataDir, !old.isEmpty)
    }

    private static func installAsCollection(_ verified: BackupArchive.Verified, archive: String, dataDir: String,
                                            name: CollectionName, replace: Bool, io: FileIO, logger: Logger) throws -> (String, Bool) {
        let files = CollectionFiles(root: dataDir, io: io)
        let target = files.path(of: name)
        let existed = io.fileExists(target)
        if existed && !replace { throw Failure.storeExists(path: target) }
        try files.create(name) { staging in
            try BackupArchive.extract(verified, from: archive, into: staging, io: io)
            if existed { try files.delete(name, logger: logger) }
        }
        return (target, existed)
    }

    /// The entries of a store folder's root that belong to its store (what a restore replaces); `LOCK`,
    /// `backups/` and `collections/` stay.
    static func isStoreEntry(_ name: String) -> Bool {
        name.hasPrefix(Manifest.fileName) || name.hasPrefix(StoreFileName.termHistory) || name.hasPrefix(SnapshotFile.prefix) || name.hasPrefix(LogManager.fileName(generation: 0)) || name.hasPrefix(LogManager.fileName(generation: 1))
            || name == RowChunkFile.directoryName
    }

    /// The row chunk files first, then the snapshot that refers to them, the manifest last.
    private static func installOrder(_ name: String) -> Int {
        name == RowChunkFile.directoryName ? 0 : name == Manifest.fileName ? 2 : 1
    }
}

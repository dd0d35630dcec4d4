import Logging
import LynxIndex
import LynxStorage

/// What the engine keeps in its data directory, and the one place that names those files:
///
///     LOCK                           flock'd while a lynxd owns the directory (holds its pid)
///     MANIFEST                       store id, dimension, metric, index and structural parameters, fixed at first start
///     snapshot-<seq>.lsnap           checkpoint images (only the newest is kept once it is safe)
///     rows/<token>.lrows             row chunk files: the snapshot's vectors, 1,024 rows each (RowChunkFiles)
///     wal-0.log, wal-1.log           the two log files, used by alternate generations (see LogManager)
///     *.broken-<n>                   damaged logs kept aside for inspection after a recovery that found damage
///
/// Not thread-safe by itself: the engine calls it from recovery, then only from checkpoints (one at a time).
final class DataDirectory: @unchecked Sendable {
    let path: String
    let io: FileIO
    let manifest: ResolvedManifest
    private var lock: DirectoryLock?
    /// Sequence of the newest snapshot known safe (0 = none: the empty state).
    var lastSnapshotSeq: UInt64 = 0
    /// The snapshots' row chunk files.
    let rowChunks: RowChunkFiles

    struct ResolvedManifest {
        /// nil only for a manifest written before stores had ids, read by the operator tools (an open gives one).
        var storeID: StoreID?
        var dimension: Int
        var metric: Metric
        var index: IndexSpec
        var indexKind: IndexKind { index.kind }

        /// What a stored manifest means to this build; nil when it names a metric or index this build does not know.
        init?(_ stored: Manifest) {
            guard let metric = Metric(rawValue: stored.metric), let kind = IndexKind(rawValue: stored.indexType) else { return nil }
            self.init(storeID: stored.storeID, dimension: stored.dimension, metric: metric,
                      index: IndexSpec(kind: kind, manifestParameters: stored.parameters))
        }

        /// Why a store cannot have these settings (a hand-edited or damaged manifest: the settings a store is
        /// made with are checked before), or nil.
        var refusal: String? {
            guard indexDimensionRange.contains(dimension) else {
                return "dimension \(dimension) is outside \(indexDimensionRange.lowerBound)...\(indexDimensionRange.upperBound)"
            }
            return index.quantization.refusal(dimension: dimension)
        }

        init(storeID: StoreID?, dimension: Int, metric: Metric, index: IndexSpec) {
            self.storeID = storeID
            self.dimension = dimension
            self.metric = metric
            self.index = index
        }
    }

    struct LoadedSnapshot {
        var seq: UInt64
        var lastLSN: UInt64
        var sections: [(tag: UInt32, bytes: [UInt8])]
    }

    private init(path: String, io: FileIO, lock: DirectoryLock?, manifest: ResolvedManifest) {
        self.path = path
        self.io = io
        self.lock = lock
        self.manifest = manifest
        rowChunks = RowChunkFiles(dataDirectory: path, io: io, mapsVectors: manifest.index.onDisk)
    }

    /// The directory as it is, for reading only (the operator tools): no lock is taken and nothing is created.
    /// Give it a read-only `io` (`ReadOnlyFileIO`), so that nothing it is asked to do can write.
    static func inspecting(path: String, manifest: ResolvedManifest, io: FileIO) -> DataDirectory {
        DataDirectory(path: path, io: io, lock: nil, manifest: manifest)
    }

    /// Creates the directory if needed, takes its lock, and reconciles the manifest with the flags. A store
    /// created now gets `newStoreID` (nil: a random one).
    static func open(config: EngineConfig, io: FileIO = SystemFileIO(), newStoreID: StoreID? = nil) throws -> DataDirectory {
        let path = config.dataDir
        if !io.fileExists(path) {
            do { try io.createDirectory(path) } catch {
                throw EngineError.internalError("cannot create data directory \(path): \(error)")
            }
        }
        let lock: DirectoryLock
        do {
            lock = try DirectoryLock.acquire(dir: path)
        } catch StorageError.locked(let pid, _) {
            throw EngineError.directoryInUse(path: path, pid: pid)
        }
        if io.fileExists(joinPath(path, StoreRestore.stagingName)) {
            lock.release()
            throw EngineError.unfinishedRestore(path: path)
        }
        // Only the parameters given, of the index asked for, must match a stored manifest; one made now has them all.
        let createdKind = config.index ?? IndexSpec.defaultKind
        let requested = Manifest.Request(
            dimension: config.dimension, metric: config.metric?.rawValue, indexType: config.index?.rawValue,
            parameters: config.indexParameters.manifestParameters(for: createdKind), storeID: newStoreID)
        let defaults = Manifest.Request(
            dimension: EngineConfig.defaultDimension, metric: EngineConfig.defaultMetric.rawValue, indexType: createdKind.rawValue,
            parameters: IndexSpec(kind: createdKind, config.indexParameters).manifestParameters)
        let stored: Manifest
        do {
            stored = try Manifest.loadOrCreate(dir: path, requested: requested, defaults: defaults, io: io)
        } catch StorageError.manifestConflict(let field, let existing, let wanted) {
            lock.release()
            throw EngineError.settingConflict(path: path, setting: field, existing: existing, requested: wanted)
        } catch {
            lock.release()
            throw error
        }
        guard let manifest = ResolvedManifest(stored) else {
            lock.release()
            throw EngineError.internalError("\(path)/MANIFEST names a metric '\(stored.metric)' or index '\(stored.indexType)' this build does not know")
        }
        if let reason = manifest.refusal {
            lock.release()
            throw StorageError.corrupt("\(path)/\(Manifest.fileName): \(reason)")
        }
        return DataDirectory(path: path, io: io, lock: lock, manifest: manifest)
    }

    /// Rewrites the manifest with another store id (atomically): an empty store becoming a copy of another.
    func rewriteManifest(storeID: StoreID) throws {
        guard var stored = try Manifest.load(dir: path, io: io) else { throw StorageError.corrupt("\(Manifest.fileName) is missing") }
        stored.storeID = storeID
        try io.writeFileAtomically(joinPath(path, Manifest.fileName), Array(stored.encoded().utf8))
    }

    func unlock() {
        lock?.release()
        lock = nil
    }

    // MARK: - Snapshots

    /// Snapshots found damaged by `loadNewestSnapshot`, and why; moved aside once recovery has succeeded without them.
    var damagedSnapshots: [(path: String, reason: StorageError)] = []

    /// The newest snapshot that verifies and that `decode` accepts, with what `decode` made of it. Damaged ones
    /// are reported (and remembered in `damagedSnapshots`): a snapshot file that fails its checks, and one whose
    /// row chunk files are missing or damaged (`decode` threw a `StorageError`); an older snapshot is tried then.
    func loadNewestSnapshot<T>(logger: Logger, decode: (LoadedSnapshot) throws -> T) throws -> (snapshot: LoadedSnapshot, decoded: T)? {
        while let (snapshot, path) = try loadNewestVerified(logger: logger) {
            do {
                return (snapshot, try decode(snapshot))
            } catch let error as StorageError {
                logger.error("a snapshot refers to a row chunk file that is missing or damaged; trying an older one", metadata: [
                    "file": "\(path)", "error": "\(error)",
                ])
                damagedSnapshots.append((path, error))
            }
        }
        return nil
    }

    /// The newest snapshot that verifies and is not already known damaged, and its path. Reports each damaged
    /// one once (in `damagedSnapshots`).
    private func loadNewestVerified(logger: Logger) throws -> (LoadedSnapshot, String)? {
        let skipping = Set(damagedSnapshots.map(\.path))
        guard let loaded = try SnapshotFile.loadNewestValid(dir: path, io: io, skipping: skipping) else {
            // None verifies: say which were there and why, so the operator learns what was lost.
            for entry in try SnapshotFile.list(dir: path, io: io) where !skipping.contains(entry.path) {
                do {
                    _ = try SnapshotFile.read(path: entry.path, io: io)
                } catch {
                    logger.error("a snapshot is damaged and cannot be used", metadata: ["file": "\(entry.path)", "error": "\(error)"])
                    damagedSnapshots.append((entry.path, error as? StorageError ?? .corrupt("\(error)")))
                }
            }
            return nil
        }
        for rejected in loaded.rejected {
            logger.error("a snapshot is damaged; using an older one", metadata: ["file": "\(rejected.path)", "error": "\(rejected.error)"])
            damagedSnapshots.append((rejected.path, rejected.error))
        }
        let s = loaded.snapshot
        return (LoadedSnapshot(seq: s.checkpointSeq, lastLSN: s.lastLSN, sections: s.sections.map { ($0.tag, $0.bytes) }), loaded.path)
    }

    /// Writes a snapshot of `state` (an immutable capture) with its vectors in `rowChunks`: the chunks changed
    /// since the last snapshot get new files, made durable before the snapshot's rename. Returns the chunks
    /// written and reused.
    @discardableResult
    func writeSnapshot(of state: StoreState, seq: UInt64, lastLSN: UInt64) throws -> (written: Int, reused: Int) {
        let sections = SnapshotCodec.streamedSections(state, dimension: manifest.dimension, metric: manifest.metric,
                                                      kind: manifest.indexKind, rowSink: rowChunks)
        rowChunks.beginPass()
        _ = try SnapshotFile.write(checkpointSeq: seq, lastLSN: lastLSN, sections: sections, dir: path, io: io,
                                   beforeRename: { try rowChunks.finishPass() })
        return rowChunks.lastPassCounts
    }

    /// After a snapshot is safe: removes older snapshots, then the row chunk files only they referred to.
    func removeOlderThan(snapshot seq: UInt64, logger: Logger) {
        removeSnapshots(olderThan: seq, logger: logger)
        rowChunks.removeUnreferenced(logger: logger)
    }

    func removeSnapshots(olderThan seq: UInt64, logger: Logger) {
        do {
            _ = try SnapshotFile.deleteOlder(than: seq, dir: path, io: io)
        } catch {
            logger.warning("could not remove old snapshots: \(error)")
        }
    }

    // MARK: - Log files

    func walPath(generation: UInt64) -> String { joinPath(path, LogManager.fileName(generation: generation)) }

    /// The log files present, with their header's generation and first LSN; and those whose full-size header
    /// does not verify (damaged: they may hold acknowledged writes). A file shorter than a header is a creation
    /// that never finished and is neither.
    func logFiles() throws -> (valid: [LogFileInfo], damaged: [(path: String, size: UInt64)]) {
        var found: [LogFileInfo] = []
        var damaged: [(path: String, size: UInt64)] = []
        for name in LogManager.fileNames {
            let file = joinPath(path, name)
            guard io.fileExists(file) else { continue }
            let (header, _, size) = try WALReader(path: file, io: io).readHeader()
            if let header {
                found.append(LogFileInfo(path: file, generation: header.checkpointSeq, firstLSN: header.firstLSN, size: size))
            } else if size >= UInt64(WALFormat.headerSize) {
                damaged.append((file, size))
            }
        }
        return (found, damaged)
    }

    /// Renames a damaged log out of the way (never deleted: an operator may want it).
    func keepAside(_ file: String, logger: Logger) {
        var n = 1
        while io.fileExists("\(file).broken-\(n)") { n += 1 }
        do {
            try io.rename(file, to: "\(file).broken-\(n)")
            try io.fsyncDirectory(path)
            logger.notice("kept a damaged file aside", metadata: ["file": "\(file).broken-\(n)"])
        } catch {
            logger.error("could not move a damaged file aside: \(error)")
        }
    }
}

struct LogFileInfo {
    var path: String
    var generation: UInt64
    var firstLSN: UInt64
    var size: UInt64
}

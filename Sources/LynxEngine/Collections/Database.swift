import Dispatch
import Logging
import LynxStorage
import LynxSupport

/// The collections of one data directory, each an `Engine` of its own (own log, snapshots and index), and the
/// `default` collection in the directory's root, made from the start-up flags.
///
/// Concurrency: lookups may run on any thread at any time; creations and deletions are serialised among
/// themselves (`catalogLock`) and never block lookups for longer than a dictionary update.
public final class Database: @unchecked Sendable {
    public typealias EngineMaker = (EngineConfig, Logger) throws -> Engine

    /// The settings every collection's engine runs with (sync mode, log thresholds, builder threads...). Its
    /// dimension, metric and index are the default collection's.
    public let baseConfig: EngineConfig
    /// Most collections besides the default one.
    public let maxCollections: Int
    /// The default collection's engine (replaced only by `replaceStore`).
    public var defaultEngine: Engine { enginesLock.read { engines[.default]! } }
    private let files: CollectionFiles
    private let logger: Logger
    private let makeEngine: EngineMaker
    private let catalogLock = PlainMutex<Void>(())
    private let enginesLock = ReadWriteLock()
    private var engines: [CollectionName: Engine] = [:]
    private let removalObservers = PlainMutex<[@Sendable (StoreID) -> Void]>([])
    /// Whether this node's stores take client writes (`WriteGate`); every engine of the database consults it.
    public let writeGate: WriteGate
    /// Creations and deletions of collections asked for by clients, one at a time (`scheduleCatalogChange`).
    private let catalogQueue = DispatchQueue(label: "lynx.catalog")

    /// Opens the default collection and every collection found (without recovering them: `recoverAll`).
    /// `services`: the threads every collection's engine shares (nil: each engine makes its own, as in tests).
    public init(config: EngineConfig, maxCollections: Int, logger: Logger = Logger(label: "lynx.engine"),
                io: FileIO = SystemFileIO(), services: EngineServices? = nil, makeEngine: EngineMaker? = nil) throws {
        baseConfig = config
        self.maxCollections = maxCollections
        self.logger = logger
        let gate = WriteGate()
        writeGate = gate
        let made = makeEngine ?? { config, logger in try Engine(config: config, logger: logger, io: io, services: services) }
        let make: EngineMaker = { config, logger in
            let engine = try made(config, logger)
            engine.writeGate = gate
            return engine
        }
        self.makeEngine = make
        files = CollectionFiles(root: config.dataDir, io: io)
        engines[.default] = try make(config, Self.logger(logger, for: .default))
        do {
            for name in try files.openCatalog(logger: logger) {
                engines[name] = try make(config.opening(files.path(of: name), with: nil), Self.logger(logger, for: name))
            }
        } catch {
            for engine in engines.values { engine.close(checkpoint: false) }
            throw error
        }
    }

    /// Runs `work` (a creation or deletion of a collection: file work with fsyncs) off the caller's thread, one at a
    /// time, apart from every store's maintenance (`Engine.scheduleMaintenance`): a store's long backup does not
    /// hold up `PUT /collections`.
    public func scheduleCatalogChange(_ work: @escaping @Sendable () -> Void) {
        catalogQueue.async(execute: work)
    }

    /// Recovers every collection, the default one first. The first failure stops it (naming the collection): a
    /// store that lost acknowledged writes is not served.
    public func recoverAll() throws {
        for (name, engine) in collections {
            do {
                try engine.recover()
            } catch {
                throw CollectionRecoveryError(collection: name, underlying: error)
            }
        }
    }

    /// The collection's engine; nil when there is no such collection.
    /// Space on the filesystem of the data directory (nil when it cannot be read). Any thread.
    public func diskSpace() -> (availableBytes: UInt64, totalBytes: UInt64)? {
        DiskSpace.of(baseConfig.dataDir).map { ($0.availableBytes, $0.totalBytes) }
    }

    public func engine(_ name: CollectionName) -> Engine? {
        enginesLock.read { engines[name] }
    }

    /// Every collection, in name order with `default` first.
    public var collections: [(name: CollectionName, engine: Engine)] {
        let all = enginesLock.read { engines.map { (name: $0.key, engine: $0.value) } }
        return all.sorted { a, b in a.name == .default || (b.name != .default && a.name < b.name) }
    }

    /// Calls `observer` with the id of every store that leaves this database (deleted, or replaced by a store
    /// from a snapshot), once it is out of the map: what other layers remember of that store is to be dropped.
    /// It runs on the thread that deleted or replaced the store, with the catalog lock held: it must not create,
    /// delete or replace a store.
    public func onStoreRemoved(_ observer: @escaping @Sendable (StoreID) -> Void) {
        removalObservers.withLock { $0.append(observer) }
    }

    private func removed(_ id: StoreID) {
        for observer in removalObservers.withLock({ $0 }) { observer(id) }
    }

    /// Creates the collection, durably and atomically, and opens it. When it exists already with the same
    /// settings nothing changes and `created` is false; with other settings it throws `.conflict`.
    /// `storeID`: the id of the store it is a copy of (a follower making the leader's collection); nil: a new
    /// store, a client's write, which `writeGate` must let in.
    public func create(_ name: CollectionName, _ settings: CollectionSettings,
                       storeID: StoreID? = nil) throws(CollectionError) -> (engine: Engine, created: Bool) {
        try settings.validate()
        if storeID == nil, let refusal = writeGate.refusal() { throw .writeRefused(refusal) }
        return try serialised { () throws(CollectionError) in
            if let existing = engine(name) {
                let stored = existing.storedSettings
                guard stored == resolved(settings) else { throw .conflict(name, existing: stored) }
                return (existing, false)
            }
            let count = enginesLock.read { engines.count } - 1
            guard count < maxCollections else { throw .tooMany(limit: maxCollections) }
            let engine: Engine
            do {
                try files.create(name) { staging in
                    // Writes the manifest (durably) and nothing else; the log starts at the first open.
                    let directory = try DataDirectory.open(config: baseConfig.opening(staging, with: settings), io: files.io,
                                                           newStoreID: storeID)
                    directory.unlock()
                }
            } catch {
                throw storageFailure("create the collection's files", error, name)
            }
            var opened: Engine?
            do {
                opened = try makeEngine(baseConfig.opening(files.path(of: name), with: nil), Self.logger(logger, for: name))
                try opened!.recover()
                engine = opened!
            } catch {
                // In place but not usable (its first log file could not be written): take it back, so that a
                // failed creation leaves nothing.
                opened?.close(checkpoint: false)
                do {
                    try files.delete(name, logger: logger)
                } catch let undo {
                    logger.error("a collection that failed to open could not be removed; it appears again at the next start",
                                 metadata: ["collection": "\(name)", "error": "\(undo)"])
                }
                throw storageFailure("open the new collection", error, name)
            }
            enginesLock.write { engines[name] = engine }
            logger.info("collection created", metadata: ["collection": "\(name)", "dimension": "\(settings.dimension)",
                                                         "metric": "\(settings.metric.rawValue)", "index": "\(settings.index.rawValue)"])
            return (engine, true)
        }
    }

    /// Deletes the collection durably: once this returns it is gone, also after a crash. Writes in flight on it
    /// fail; its files are removed. `replicating`: a follower dropping its copy as its leader did (not a client's
    /// write, so `writeGate` is not asked).
    public func delete(_ name: CollectionName, replicating: Bool = false) throws(CollectionError) {
        guard name != .default else { throw .protected(name) }
        if !replicating, let refusal = writeGate.refusal() { throw .writeRefused(refusal) }
        try serialised { () throws(CollectionError) in
            guard let engine = enginesLock.write({ engines.removeValue(forKey: name) }) else { throw .notFound(name) }
            engine.failStop("the collection \(name) was deleted")
            engine.close(checkpoint: false)
            do {
                try files.delete(name, logger: logger)
            } catch {
                // Not moved away: the collection is still whole on disk. Serve it again rather than lose track of it.
                if let reopened = try? makeEngine(baseConfig.opening(files.path(of: name), with: nil), Self.logger(logger, for: name)),
                   (try? reopened.recover()) != nil {
                    enginesLock.write { engines[name] = reopened }
                }
                throw storageFailure("delete the collection's files", error, name)
            }
            removed(engine.storeID)
            logger.info("collection deleted", metadata: ["collection": "\(name)"])
        }
    }

    /// Replaces a store with a backup archive while the database runs (a follower starting over from its
    /// leader's snapshot): the store's engine is stopped and closed (requests holding it fail or read the old
    /// state), the archive installed as `StoreRestore` does, and a new engine opened and recovered from it. A
    /// collection the database lacks is created from the archive. On failure the store is left closed, or absent,
    /// and the error says why; a restart completes or refuses it as after an interrupted `lynxd restore`.
    public func replaceStore(_ name: CollectionName, withArchive archive: String) throws -> StoreRestore.Report {
        try catalogLock.withLock { _ in
            // The old engine stays in the map, stopped (writes fail, reads see its last state), until the new one
            // is in: a lookup never finds the store missing, the default one least of all.
            let old = engine(name)
            if let old {
                old.failStop("the store is being replaced from its leader's snapshot")
                old.close(checkpoint: false)
            }
            // Whether or not the new store comes up, the old one is gone (its files are being replaced).
            defer { if let old { removed(old.storeID) } }
            // The default store's lock went with its engine; a collection's restore runs under the root's lock,
            // which the default engine holds.
            let report = try StoreRestore.restore(archive: archive, dataDir: baseConfig.dataDir, collection: name, replace: true,
                                                  io: files.io, logger: logger, takeLock: name == .default)
            let config = name == .default ? baseConfig : baseConfig.opening(files.path(of: name), with: nil)
            let engine = try makeEngine(config, Self.logger(logger, for: name))
            do {
                try engine.recover()
            } catch {
                engine.close(checkpoint: false)
                throw error
            }
            enginesLock.write { engines[name] = engine }
            logger.notice("store replaced from a snapshot", metadata: ["collection": "\(name)", "lsn": "\(report.info.lsn)"])
            return report
        }
    }

    /// Runs `body` holding the catalog lock (one creation or deletion at a time).
    private func serialised<T>(_ body: () throws(CollectionError) -> T) throws(CollectionError) -> T {
        let result: Result<T, CollectionError> = catalogLock.withLock { _ in
            do throws(CollectionError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Closes every collection (`checkpoint`: each writes its shutdown checkpoint first).
    public func close(checkpoint: Bool = true) {
        for (_, engine) in collections { engine.close(checkpoint: checkpoint) }
    }

    /// The settings a collection created now with `settings` would store.
    func resolved(_ settings: CollectionSettings) -> StoredCollectionSettings {
        StoredCollectionSettings(dimension: settings.dimension, metric: settings.metric, index: settings.indexSpec)
    }

    private static func logger(_ base: Logger, for name: CollectionName) -> Logger {
        var l = base
        l[metadataKey: "collection"] = "\(name)"
        return l
    }

    /// Logs the full error (it may name files) and returns one that says what failed, without paths.
    private func storageFailure(_ what: String, _ error: any Error, _ name: CollectionName) -> CollectionError {
        logger.error("could not \(what)", metadata: ["collection": "\(name)", "error": "\(error)"])
        if case StorageError.noSpace = error { return .storage("could not \(what): the disk is full") }
        return .storage("could not \(what) (an I/O error; the server's log has the details)")
    }
}

/// Recovery of one collection failed.
public struct CollectionRecoveryError: Error, CustomStringConvertible {
    public var collection: CollectionName
    public var underlying: any Error
    public var description: String { "collection \(collection): \(underlying)" }
}

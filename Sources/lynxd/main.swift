// lynxd: parses the configuration, opens the data directory, serves HTTP, recovers, and stops cleanly on
// SIGTERM/SIGINT. Everything of substance lives in the libraries; this file only wires them together.
import ArgumentParser
import Dispatch
import LynxEngine
import LynxHTTP
import LynxReplication
import LynxSupport
import LynxTransport
import Logging

#if canImport(Glibc)
import Glibc
#endif

let lynxVersion = "0.1.0"

/// One clear line on stderr, then exit.
func fail(_ message: String, code: Int32 = 1) -> Never {
    fputs("lynxd: \(message)\n", stderr)
    exit(code)
}

func run() {
    runOperatorToolIfNamed(Array(CommandLine.arguments.dropFirst()))  // lynxd check, dump-wal, restore (Tools/)
    let options: LynxdOptions
    do {
        options = try LynxdOptions.parse()
    } catch {
        let code = LynxdOptions.exitCode(for: error)
        if code == .success {
            print(LynxdOptions.fullMessage(for: error))
            exit(0)
        }
        // ArgumentParser's message can span lines (usage); keep the first, which names the problem.
        let message = LynxdOptions.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        fail("\(message) (see lynxd --help)", code: 2)
    }
    let settings: LynxdSettings
    do {
        settings = try options.resolve(environment: currentEnvironment())
    } catch {
        fail("\(error)", code: 2)
    }

    let level = Logger.Level(rawValue: settings.logLevel) ?? .info
    LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: level, format: settings.logFormat) }
    let logger = Logger(label: "lynxd")
    logger.info("configuration", metadata: settings.logMetadata)
    // Blocks under 32 MiB from glibc's arenas, a thread arena's free top past 8 MiB given back (HeapRelease).
    HeapRelease.fixThresholds()

    // The process's background threads, shared by every collection's engine.
    // Two commit threads: collections fdatasync their logs independently, two at a time.
    let services = EngineServices(indexThreads: settings.engine.indexThreads, builderNiceness: settings.engine.indexBuilderNiceness,
                                  commitThreads: 2)
    let database: Database
    do {
        database = try Database(config: settings.engine, maxCollections: settings.maxCollections, logger: Logger(label: "lynx.engine"),
                                services: services)
    } catch EngineError.directoryInUse(let path, let pid) {
        fail("another lynxd (pid \(pid)) already uses \(path); stop it or choose another --data-dir")
    } catch EngineError.unfinishedRestore(let path) {
        fail("\(path) holds an unfinished lynxd restore; run that restore again to complete it")
    } catch EngineError.settingConflict(let path, let setting, let existing, let requested) {
        fail("\(path) was created with \(setting)=\(existing), but \(setting)=\(requested) was asked for; start without that flag, or use another --data-dir")
    } catch {
        let why = DataDirectoryAccess.problem(settings.engine.dataDir).map { "; \($0)" } ?? ""
        fail("cannot open data directory \(settings.engine.dataDir): \(error)\(why)")
    }
    let engine = database.defaultEngine

    let cluster = settings.cluster.map { ClusterNode(config: $0, database: database, logger: Logger(label: "lynx.cluster")) }
    let api = LynxAPI(database: database, maxBatch: settings.engine.maxBatch, maxMetadataBytes: settings.maxMetadataBytes,
                      readLimits: settings.readLimits, version: lynxVersion, access: settings.access, minFreeDiskBytes: settings.minFreeDiskBytes, cluster: cluster)
    let server = MicroHTTPDServer(config: settings.server, handler: api, logger: Logger(label: "lynx.http"))
    do {
        try server.start()
    } catch {
        fail("\(error)")
    }
    logger.info("listening on \(server.scheme)://\(hostForURL(settings.server.host)):\(server.port)", metadata: [
        "data_dir": "\(settings.engine.dataDir)", "dimension": "\(engine.dimension)", "metric": "\(engine.metric.rawValue)",
        "index": "\(engine.indexKind.rawValue)", "sync": "\(settings.engine.syncMode.rawValue)", "version": "\(lynxVersion)",
        "collections": "\(database.collections.count)",
    ])

    let signals = installSignalHandlers {
        logger.info("shutting down: draining connections")
        cluster?.stop()
        server.stop(drainSeconds: 10)
        database.close()
        services.shutdown()
        logger.info("stopped")
        exit(0)
    }
    _ = signals

    // Replay the logs while the server already answers (/health says "recovering").
    spawnThread(name: "lynx-recovery") {
        do {
            let started = monotonicSeconds()
            try database.recoverAll()
            logger.info("every collection recovered", metadata: [
                "collections": "\(database.collections.count)", "seconds": "\(monotonicSeconds() - started)"])
            // A node joins its cluster once its stores are recovered: its position is then its log's end.
            cluster?.start()
        } catch {
            // Refusing to start beats serving a store that silently lost acknowledged writes.
            logger.critical("recovery failed; lynxd stops without changing the data directory: \(error)")
            server.stop(drainSeconds: 1)
            fail("recovery failed: \(error)")
        }
    }
    dispatchMain()
}

func hostForURL(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

func currentEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}

/// SIGTERM and SIGINT run `onStop` once, on a dispatch queue. Set up inside a function: a handler created in
/// top-level code would inherit the main actor and trap when run on a global queue.
func installSignalHandlers(_ onStop: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
    let queue = DispatchQueue(label: "lynxd.signals")
    return [SIGTERM, SIGINT].map { sig in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
        source.setEventHandler(handler: onStop)
        source.resume()
        return source
    }
}


run()

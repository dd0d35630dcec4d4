import Foundation
import LynxEngine
import LynxIndex
import LynxStorage
import LynxSupport
import XCTest

/// Many engines on one `EngineServices`: the process's threads stay the same whether it holds 2 engines or 200,
/// and each engine still commits, checkpoints and links as if it had threads of its own.
final class EngineServicesTests: XCTestCase {
    var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "lynx-services-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    static let dimension = 8

    /// Engine `i`: HNSW when odd, Flat when even, in its own directory under `root`.
    func config(_ i: Int, _ tweak: (inout EngineConfig) -> Void = { _ in }) -> EngineConfig {
        var c = EngineConfig.forTests(dir: root + "/engine-\(i)", dimension: Self.dimension, index: i % 2 == 1 ? .hnsw : .flat)
        c.indexParameters[.m] = 8
        c.indexParameters[.efConstruction] = 32
        c.indexThreads = 2
        tweak(&c)
        return c
    }

    func open(_ i: Int, _ services: EngineServices, io: FileIO = SystemFileIO(),
              _ tweak: (inout EngineConfig) -> Void = { _ in }) throws -> Engine {
        let engine = try Engine(config: config(i, tweak), io: io, services: services)
        try engine.recover()
        return engine
    }

    /// Record `id` of engine `engine`: its vector encodes both, so a record found in the wrong store shows.
    static func record(engine: Int, id: UInt64) -> VectorRecord {
        VectorRecord(id: id, vector: (0..<dimension).map { Float(engine) + Float(id) * 0.01 + Float($0) * 0.001 })
    }

    func durable(_ engine: Engine, _ lsn: UInt64, seconds: Double = 10) -> Result<UInt64, EngineError>? {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        engine.whenDurable(lsn) { result in
            box.set(result)
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return box.get()
    }

    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
    }

    /// Waits (bounded) for `condition`; true when it held in time.
    func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(5000)
        }
        return true
    }

    func testTwoHundredEnginesShareTheThreadsOfTwo() throws {
        let services = EngineServices(indexThreads: 2, builderNiceness: 0)
        defer { services.shutdown() }
        let count = 200
        let perEngine: UInt64 = 20
        var engines: [Engine] = []

        // Two engines (one of each kind), each with everything running: commit, checkpoint and builder threads.
        for i in 0..<2 {
            let engine = try open(i, services)
            engines.append(engine)
            let lsn = try engine.upsert([Self.record(engine: i, id: 0)])
            XCTAssertNotNil(try durable(engine, lsn)?.get())
        }
        XCTAssertTrue(engines[1].waitUntilLinked(seconds: 10))
        let threadsWithTwo = Self.threadCount()

        // Engine 2 checkpoints automatically once its log passes 1 KiB (its 20 records take about 2 KiB).
        for i in 2..<count {
            engines.append(try open(i, services) { if i == 2 { $0.checkpointWALBytes = 1024 } })
        }
        for (i, engine) in engines.enumerated() {
            let start: UInt64 = i < 2 ? 1 : 0
            var last: UInt64 = 0
            for id in start..<perEngine { last = try engine.upsert([Self.record(engine: i, id: id)]) }
            XCTAssertNotNil(try durable(engine, last)?.get(), "engine \(i): no durable callback")
        }
        for i in stride(from: 1, to: count, by: 2) {
            XCTAssertTrue(engines[i].waitUntilLinked(seconds: 30), "engine \(i): pending records never linked")
            XCTAssertEqual(engines[i].linkingReport().linked, perEngine, "engine \(i)")
        }
        XCTAssertTrue(eventually(seconds: 10) { engines[2].logReport().checkpointSeq > 0 }, "no automatic checkpoint by size")
        XCTAssertEqual(engines[4].logReport().checkpointSeq, 0, "a checkpoint where none was due")
        let threadsWithAll = Self.threadCount()
        // Not proportional: a few threads of slack for the test process's own (Dispatch, XCTest), not one per engine.
        XCTAssertLessThanOrEqual(threadsWithAll, threadsWithTwo + 3, "\(count) engines: \(threadsWithAll) threads, 2 engines: \(threadsWithTwo)")
        XCTAssertEqual(services.registeredEngines.committers, count)
        XCTAssertEqual(services.registeredEngines.builders, count / 2)

        // Close the even half; the others keep taking writes, becoming durable and linking.
        for i in stride(from: 0, to: count, by: 2) { engines[i].close() }
        XCTAssertEqual(services.registeredEngines.committers, count / 2)
        XCTAssertEqual(services.registeredEngines.checkpointers, count / 2)
        for i in stride(from: 1, to: count, by: 2) {
            let lsn = try engines[i].upsert([Self.record(engine: i, id: perEngine)])
            XCTAssertNotNil(try durable(engines[i], lsn)?.get(), "engine \(i) after the others closed")
        }
        for i in stride(from: 1, to: count, by: 2) {
            XCTAssertTrue(engines[i].waitUntilLinked(seconds: 30), "engine \(i): not linked after the others closed")
            engines[i].close()
        }
        XCTAssertEqual(services.registeredEngines.committers, 0)

        // Reopen all: every record is there, in its own store.
        for i in 0..<count {
            let engine = try open(i, services)
            let expected = i % 2 == 1 ? perEngine + 1 : perEngine
            XCTAssertEqual(engine.count, Int(expected), "engine \(i) after reopening")
            for id in 0..<expected {
                XCTAssertEqual(try engine.get(id)?.vector, Self.record(engine: i, id: id).vector, "engine \(i), id \(id)")
            }
            if i % 2 == 1 {
                let hit = try engine.search(Self.record(engine: i, id: 3).vector, k: 1, params: SearchParams(efSearch: 32),
                                            filter: nil, includeMetadata: false, includeVector: false)
                XCTAssertEqual(hit.first?.id, 3, "engine \(i): search after reopening")
            }
            engine.close()
        }
    }

    func testFailedFsyncOfOneLogFailsOnlyThatEnginesWriters() throws {
        let services = EngineServices(indexThreads: 1, builderNiceness: 0)
        defer { services.shutdown() }
        let io = FaultInjectingFileIO()
        let faulty = try open(0, services, io: io)
        let healthy = try open(1, services)
        let other = try open(2, services)

        let first = try faulty.upsert([Self.record(engine: 0, id: 1)])
        XCTAssertNotNil(try durable(faulty, first)?.get())
        io.fail(.fdatasync, errno: EIO)
        let doomed = try faulty.upsert([Self.record(engine: 0, id: 2)])
        let fine = try healthy.upsert([Self.record(engine: 1, id: 1)])
        guard case .failure(.failed) = durable(faulty, doomed) else { return XCTFail("the faulty log's waiter should fail") }
        guard case .failed = faulty.status else { return XCTFail("the faulty engine should be failed, is \(faulty.status)") }
        XCTAssertThrowsError(try faulty.upsert([Self.record(engine: 0, id: 3)]))

        XCTAssertEqual(try durable(healthy, fine)?.get(), fine)
        XCTAssertEqual(healthy.status, .ready)
        for (n, engine) in [healthy, other].enumerated() {
            for id in 10..<20 as Range<UInt64> {
                let lsn = try engine.upsert([Self.record(engine: n + 1, id: id)])
                XCTAssertEqual(try durable(engine, lsn)?.get(), lsn, "engine \(n + 1) after the other's fsync failed")
            }
        }
        XCTAssertTrue(healthy.waitUntilLinked(seconds: 10))
        faulty.close(checkpoint: false)
        healthy.close()
        other.close()
    }

    func testAFailingCheckpointDoesNotStopTheOthers() throws {
        let services = EngineServices(indexThreads: 1, builderNiceness: 0)
        defer { services.shutdown() }
        let io = FaultInjectingFileIO()
        let failing = try open(0, services, io: io) { $0.checkpointWALBytes = 1024 }
        let working = try open(2, services) { $0.checkpointWALBytes = 1024 }
        // From now on every rename of engine 0 (a snapshot's last step) fails; engine 2's checkpoints go through
        // on the same thread.
        io.fail(.rename, errno: EIO, times: 1_000_000)
        for id in 0..<40 as Range<UInt64> {
            _ = try failing.upsert([Self.record(engine: 0, id: id)])
            _ = try working.upsert([Self.record(engine: 2, id: id)])
        }
        XCTAssertTrue(eventually(seconds: 10) { working.logReport().checkpointSeq > 0 }, "the working engine never checkpointed")
        XCTAssertTrue(eventually(seconds: 10) { failing.metrics.checkpoints.snapshot().contains { $0.0 == ["failure"] && $0.1 > 0 } }, "the failing engine never tried")
        XCTAssertEqual(failing.logReport().checkpointSeq, 0)
        let before = working.logReport().checkpointSeq
        for id in 40..<80 as Range<UInt64> {
            _ = try failing.upsert([Self.record(engine: 0, id: id)])
            _ = try working.upsert([Self.record(engine: 2, id: id)])
        }
        XCTAssertTrue(eventually(seconds: 10) { working.logReport().checkpointSeq > before }, "the working engine stopped checkpointing")
        failing.close(checkpoint: false)
        working.close()
    }

    func testAnEngineWithoutServicesStopsItsOwnThreads() throws {
        let before = Self.threadCount()
        let engine = try Engine(config: config(1))
        try engine.recover()
        let lsn = try engine.upsert([Self.record(engine: 1, id: 1)])
        XCTAssertNotNil(try durable(engine, lsn)?.get())
        XCTAssertTrue(engine.waitUntilLinked(seconds: 10))
        XCTAssertGreaterThan(Self.threadCount(), before)
        engine.close()
        XCTAssertTrue(eventually(seconds: 5) { Self.threadCount() <= before }, "threads left: \(Self.threadCount()), before: \(before)")
    }

    // MARK: - Benchmark (LYNX_BENCH=1)

    /// Threads, RSS and opening time of 1, 100 and 1,000 idle engines on shared services. `LYNX_BENCH_MAP=0`:
    /// logs appended with pwrite instead of through their mapping.
    func testBenchmarkIdleEngines() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["LYNX_BENCH"] == "1", "benchmark: set LYNX_BENCH=1")
        let mapAppends = ProcessInfo.processInfo.environment["LYNX_BENCH_MAP"] != "0"
        for count in [1, 100, 1000] {
            let services = EngineServices(indexThreads: 2)
            let threadsBefore = Self.threadCount()
            let rssBefore = Self.rss()
            let started = Date()
            var engines: [Engine] = []
            for i in 0..<count {
                let engine = try open(i, services) {
                    $0.dataDir = self.root + "/bench-\(count)-\(i)"
                    $0.syncIntervalSeconds = 1
                    $0.walMapAppends = mapAppends
                }
                _ = try engine.upsert([Self.record(engine: i, id: 1)])
                engines.append(engine)
            }
            let openSeconds = Date().timeIntervalSince(started)
            for i in stride(from: 1, to: count, by: 2) { _ = engines[i].waitUntilLinked(seconds: 30) }
            usleep(300_000)
            let rss = Self.rss()
            print(String(format: "LYNX_BENCH idle_engines=%d map_appends=%d open_seconds=%.3f threads=%d (before %d) rss_anon_mib=%.1f (before %.1f) rss_file_mib=%.1f (before %.1f)",
                         count, mapAppends ? 1 : 0, openSeconds, Self.threadCount(), threadsBefore, rss.anon, rssBefore.anon, rss.file, rssBefore.file))
            let closing = Date()
            for engine in engines { engine.close(checkpoint: false) }
            print(String(format: "LYNX_BENCH idle_engines=%d close_seconds=%.3f", count, Date().timeIntervalSince(closing)))
            services.shutdown()
        }
    }

    /// Durable writes per second of one engine (`--sync always`, 16 writer threads, 3 s), with private services,
    /// shared services alone, and shared services that also serve 999 idle engines.
    func testBenchmarkDurableWrites() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["LYNX_BENCH"] == "1", "benchmark: set LYNX_BENCH=1")
        let writers = Int(ProcessInfo.processInfo.environment["LYNX_BENCH_WRITERS"] ?? "") ?? 16
        for (label, idle) in [("private", -1), ("shared", 0), ("shared+999idle", 999), ("private", -1), ("shared+999idle", 999)] {
            let services = EngineServices(indexThreads: 2)
            var idleEngines: [Engine] = []
            for i in 0..<max(0, idle) {
                idleEngines.append(try open(i + 1, services) {
                    $0.dataDir = self.root + "/idle-\(label)-\(i)-\(UUID().uuidString)"
                    $0.syncIntervalSeconds = 1
                })
            }
            let dir = root + "/durable-\(label)-\(UUID().uuidString)"
            let engine = idle < 0
                ? try Engine(config: config(0) { $0.dataDir = dir; $0.syncMode = .always })
                : try Engine(config: config(0) { $0.dataDir = dir; $0.syncMode = .always }, services: services)
            try engine.recover()
            let done = Counter()
            let deadline = Date().addingTimeInterval(3)
            let finished = DispatchGroup()
            for t in 0..<writers {
                finished.enter()
                spawnThread(name: "bench-writer-\(t)") {
                    var id = UInt64(t) << 32
                    while Date() < deadline {
                        id += 1
                        guard let lsn = try? engine.upsert([Self.record(engine: 0, id: id)]) else { break }
                        let sem = DispatchSemaphore(value: 0)
                        engine.whenDurable(lsn) { _ in sem.signal() }
                        sem.wait()
                        done.add()
                    }
                    finished.leave()
                }
            }
            finished.wait()
            print(String(format: "LYNX_BENCH durable_writes services=%@ writers=%d writes_per_second=%.0f fsyncs=%d",
                         label, writers, Double(done.value) / 3, Int(engine.metrics.fsyncDuration.snapshot().count)))
            engine.close(checkpoint: false)
            for e in idleEngines { e.close(checkpoint: false) }
            services.shutdown()
        }
    }

    /// Resident memory in MiB: anonymous (heap) and file-backed (mapped files, the logs' mappings among them).
    static func rss() -> (anon: Double, file: Double) {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
        }
        return (field("RssAnon"), field("RssFile") + field("RssShmem"))
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<UInt64, EngineError>?
    func set(_ value: Result<UInt64, EngineError>) { lock.lock(); result = value; lock.unlock() }
    func get() -> Result<UInt64, EngineError>? { lock.lock(); defer { lock.unlock() }; return result }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

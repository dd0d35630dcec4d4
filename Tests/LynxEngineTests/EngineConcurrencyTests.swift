import Foundation
import LynxEngine
import LynxIndex
import XCTest

/// Searches keep running while the single writer inserts into HNSW: the write path plans each insert under the
/// state's read lock and takes the write lock only to apply the precomputed changes.
final class EngineConcurrencyTests: XCTestCase {
    var dirs: [String] = []

    override func tearDownWithError() throws {
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir) }
    }

    func openEngine(dimension: Int, tweak: (inout EngineConfig) -> Void = { _ in }) throws -> Engine {
        let dir = NSTemporaryDirectory() + "lynx-concurrency-\(UUID().uuidString)"
        dirs.append(dir)
        var c = EngineConfig()
        c.dataDir = dir
        c.dimension = dimension
        c.metric = .l2
        c.index = .hnsw
        c.hnswSeed = 42
        c.syncIntervalSeconds = 0.05
        c.checkpointWALBytes = 1 << 40
        c.checkpointIntervalSeconds = 1e9
        tweak(&c)
        let engine = try Engine(config: c)
        try engine.recover()
        return engine
    }

    static func vectors(count: Int, dim: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix(state: seed)
        return (0..<count).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
    }

    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    final class Counters: @unchecked Sendable {
        let lock = NSLock()
        var searches = 0
        var maxLatency = 0.0
        var totalLatency = 0.0
        var failures: [String] = []
        func add(_ n: Int, max m: Double, total: Double, failures f: [String]) {
            lock.lock()
            searches += n
            maxLatency = Swift.max(maxLatency, m)
            totalLatency += total
            failures += f.prefix(5)
            lock.unlock()
        }
    }

    struct Figures {
        var inserts: Int
        var insertSeconds: Double
        var searches: Int
        var searchMaxLatency: Double
        var searchMeanLatency: Double
        var failures: [String]
        var insertsPerSecond: Double { Double(inserts) / insertSeconds }
        var searchesPerSecond: Double { Double(searches) / insertSeconds }
        var meanInsert: Double { insertSeconds / Double(inserts) }
    }

    /// `searchThreads` threads search as fast as they can while this thread inserts `inserts` (ids from
    /// `firstID`). Each result is checked: only ids inserted so far (all ids below `firstID + inserts`), at most
    /// k hits, nearest first.
    func runConcurrent(_ engine: Engine, inserts: [[Float]], firstID: UInt64, searchThreads: Int,
                       queries: [[Float]], k: Int = 10) throws -> Figures {
        let stop = ManagedAtomicFlag()
        let counters = Counters()
        let group = DispatchGroup()
        let idLimit = firstID + UInt64(inserts.count)
        for t in 0..<searchThreads {
            group.enter()
            Thread.detachNewThread {
                var n = 0, maxLat = 0.0, total = 0.0
                var failures: [String] = []
                var i = t
                while !stop.isSet {
                    let q = queries[i % queries.count]
                    i += searchThreads
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    do {
                        let hits = try engine.search(q, k: k, params: SearchParams(), filter: nil,
                                                     includeMetadata: false, includeVector: false)
                        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                        n += 1
                        total += dt
                        maxLat = max(maxLat, dt)
                        if hits.count > k || hits.isEmpty { failures.append("\(hits.count) hits") }
                        for (j, h) in hits.enumerated() {
                            if h.id >= idLimit { failures.append("bad id \(h.id)") }
                            if j > 0 && (hits[j - 1].distance > h.distance
                                || (hits[j - 1].distance == h.distance && hits[j - 1].id >= h.id)) {
                                failures.append("not nearest-first at \(j)")
                            }
                        }
                        if Set(hits.map(\.id)).count != hits.count { failures.append("duplicate ids") }
                    } catch {
                        failures.append("\(error)")
                    }
                }
                counters.add(n, max: maxLat, total: total, failures: failures)
                group.leave()
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        for (i, v) in inserts.enumerated() {
            _ = try engine.upsert([VectorRecord(id: firstID + UInt64(i), vector: v)])
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        stop.set()
        group.wait()
        return Figures(inserts: inserts.count, insertSeconds: seconds, searches: counters.searches,
                       searchMaxLatency: counters.maxLatency,
                       searchMeanLatency: counters.totalLatency / Double(max(counters.searches, 1)),
                       failures: counters.failures)
    }

    static func describe(_ name: String, _ f: Figures) -> String {
        func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
        return "\(name): \(f.inserts) inserts in \(String(format: "%.2f", f.insertSeconds)) s "
            + "(\(Int(f.insertsPerSecond))/s, mean \(ms(f.meanInsert))); \(f.searches) searches "
            + "(\(Int(f.searchesPerSecond))/s, mean latency \(ms(f.searchMeanLatency)), max \(ms(f.searchMaxLatency)))"
    }

    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}

/// A flag set once by one thread and polled by others.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

extension EngineConcurrencyTests {
    /// Release-build measurement, skipped unless LYNX_BENCH=1: 384-d HNSW (m 16, ef_construction 200),
    /// preload, then insert throughput alone, search throughput alone (2 threads), and both together.
    func testBenchmarkSearchWhileInserting384() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["LYNX_BENCH"] == "1" else { throw XCTSkip("set LYNX_BENCH=1 to run") }
        let dim = 384
        let preload = Int(env["LYNX_BENCH_PRELOAD"] ?? "") ?? 4000
        let batch = Int(env["LYNX_BENCH_INSERTS"] ?? "") ?? 1000
        let all = EngineConcurrencyTests.vectors(count: preload + 2 * batch, dim: dim, seed: 1)
        let queries = EngineConcurrencyTests.vectors(count: 200, dim: dim, seed: 2)
        for mode in benchModes {
            let engine = try openEngine(dimension: dim, tweak: mode.tweak)
            defer { engine.close() }
            let t0 = DispatchTime.now().uptimeNanoseconds
            for i in 0..<preload { _ = try engine.upsert([VectorRecord(id: UInt64(i), vector: all[i])]) }
            let preloadSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            let alone = try runConcurrent(engine, inserts: Array(all[preload..<preload + batch]), firstID: UInt64(preload),
                                          searchThreads: 0, queries: queries)
            // searches alone, for about as long as the concurrent phase is expected to take
            let searchesAlone = try searchOnly(engine, threads: 2, seconds: 3, queries: queries)
            let both = try runConcurrent(engine, inserts: Array(all[(preload + batch)...]), firstID: UInt64(preload + batch),
                                         searchThreads: 2, queries: queries)
            XCTAssertEqual(both.failures, [])
            print("BENCH [\(mode.name)] load \(EngineConcurrencyTests.loadAverage()); preload \(preload) in "
                  + String(format: "%.1f s (%.0f/s)", preloadSeconds, Double(preload) / preloadSeconds))
            print("BENCH [\(mode.name)] " + EngineConcurrencyTests.describe("inserts alone", alone))
            print("BENCH [\(mode.name)] searches alone, 2 threads: " + String(format: "%.0f/s", searchesAlone))
            print("BENCH [\(mode.name)] " + EngineConcurrencyTests.describe("2 search threads + 1 writer", both))
        }
    }

    func searchOnly(_ engine: Engine, threads: Int, seconds: Double, queries: [[Float]]) throws -> Double {
        let counters = Counters()
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
                var n = 0, i = t
                while DispatchTime.now().uptimeNanoseconds < end {
                    _ = try? engine.search(queries[i % queries.count], k: 10, params: SearchParams(), filter: nil,
                                           includeMetadata: false, includeVector: false)
                    i += threads
                    n += 1
                }
                counters.add(n, max: 0, total: 0, failures: [])
                group.leave()
            }
        }
        group.wait()
        return Double(counters.searches) / seconds
    }
}

struct BenchMode {
    var name: String
    var tweak: (inout EngineConfig) -> Void
}

let benchModes = [BenchMode(name: "baseline 14ed1b2", tweak: { _ in })]

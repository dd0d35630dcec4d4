import XCTest
import LynxEngine
import LynxStorage
import Synchronization

/// The retained window as a leader serves it, through a real engine with a log.
final class RetainedLogTests: XCTestCase {
    func makeEngine(window: Int) throws -> (Engine, String) {
        let dir = NSTemporaryDirectory() + "retained-\(UInt64.random(in: 0...UInt64.max))"
        var config = EngineConfig()
        config.dataDir = dir
        config.dimension = 4
        config.index = .flat
        config.syncMode = .always
        config.retainedLogBytes = window
        let engine = try Engine(config: config)
        try engine.recover()
        return (engine, dir)
    }

    func durable(_ engine: Engine, _ lsn: UInt64) {
        let done = expectation(description: "durable")
        engine.whenDurable(lsn) { _ in done.fulfill() }
        wait(for: [done], timeout: 10)
    }

    func testServesDurableTransactionsAfterAnLSNAndKnowsWhereItsWindowStarts() throws {
        let (engine, dir) = try makeEngine(window: 1 << 20)
        defer { engine.close(checkpoint: false); try? FileManager.default.removeItem(atPath: dir) }
        var last: UInt64 = 0
        for i in 0..<10 { last = try engine.upsert([VectorRecord(id: UInt64(i), vector: [1, 2, 3, Float(i)])]) }
        durable(engine, last)
        guard case .transactions(let all) = engine.retainedTransactions(after: 0, maxBytes: 1 << 20) else { return XCTFail() }
        XCTAssertEqual(all.map(\.firstLSN), Array(1...10))
        guard case .transactions(let tail) = engine.retainedTransactions(after: 7, maxBytes: 1 << 20) else { return XCTFail() }
        XCTAssertEqual(tail.map(\.firstLSN), [8, 9, 10])
        guard case .transactions(let one) = engine.retainedTransactions(after: 0, maxBytes: 1) else { return XCTFail() }
        XCTAssertEqual(one.count, 1, "at least one transaction, even past max_bytes")
    }

    func testAFollowerBehindASmallWindowIsToldWhereItStarts() throws {
        let (engine, dir) = try makeEngine(window: 2_000)
        defer { engine.close(checkpoint: false); try? FileManager.default.removeItem(atPath: dir) }
        var last: UInt64 = 0
        for i in 0..<100 { last = try engine.upsert([VectorRecord(id: UInt64(i), vector: [1, 2, 3, 4])]) }
        durable(engine, last)
        guard case .beforeWindow(let start) = engine.retainedTransactions(after: 0, maxBytes: 1 << 20) else { return XCTFail() }
        XCTAssertGreaterThan(start, 1)
        guard case .transactions(let kept) = engine.retainedTransactions(after: start - 1, maxBytes: 1 << 20) else { return XCTFail() }
        XCTAssertEqual(kept.last?.lastLSN, last)
    }

    func testAReplicaTakesTheLeadersTransactionsWithTheirLSNsOnly() throws {
        let (leader, d1) = try makeEngine(window: 1 << 20)
        let (replica, d2) = try makeEngine(window: 1 << 20)
        defer {
            leader.close(checkpoint: false); replica.close(checkpoint: false)
            try? FileManager.default.removeItem(atPath: d1); try? FileManager.default.removeItem(atPath: d2)
        }
        var last: UInt64 = 0
        for i in 0..<5 { last = try leader.upsert([VectorRecord(id: UInt64(i), vector: [1, 0, 0, Float(i)])]) }
        last = try leader.delete(2)
        durable(leader, last)
        guard case .transactions(let list) = leader.retainedTransactions(after: 0, maxBytes: 1 << 20) else { return XCTFail() }
        XCTAssertThrowsError(try replica.applyReplicated(Array(list.dropFirst()))) { error in
            XCTAssertEqual(error as? EngineError, .replicaOutOfOrder(expected: 1, received: 2))
        }
        XCTAssertEqual(replica.count, 0, "nothing applied from a batch that does not continue the log")
        XCTAssertEqual(try replica.applyReplicated(list), last)
        XCTAssertEqual(replica.count, 4)
        XCTAssertNil(try replica.get(2))
        XCTAssertEqual(try replica.get(4)?.vector, [1, 0, 0, 4])
        XCTAssertEqual(replica.lastLSN, leader.lastLSN)
    }
}

final class LogWatchTests: XCTestCase {
    func testAWatchFiresWhenTheLogReachesItsLSNAndNotBefore() throws {
        let dir = NSTemporaryDirectory() + "watch-\(UInt64.random(in: 0...UInt64.max))"
        var config = EngineConfig()
        config.dataDir = dir
        config.dimension = 2
        config.index = .flat
        config.retainedLogBytes = 1 << 20
        let engine = try Engine(config: config)
        try engine.recover()
        defer { engine.close(checkpoint: false); try? FileManager.default.removeItem(atPath: dir) }
        let fired = expectation(description: "lsn 2 in the log")
        let early = Mutex(false)
        _ = try engine.upsert([VectorRecord(id: 1, vector: [1, 0])])
        engine.whenLogHolds(2) {
            early.withLock { $0 = true }
            fired.fulfill()
        }
        XCTAssertFalse(early.withLock { $0 }, "fired while the log held only LSN 1")
        _ = try engine.upsert([VectorRecord(id: 2, vector: [0, 1])])
        wait(for: [fired], timeout: 5)
        let atOnce = expectation(description: "already held")
        engine.whenLogHolds(1) { atOnce.fulfill() }
        wait(for: [atOnce], timeout: 1)
    }
}

import Foundation
import Glibc
import LynxEngine
import LynxStorage
import Synchronization
import XCTest
import LynxReplication

/// `WriteAcknowledger` on a single node: when a write is acknowledged and what the acknowledgement says. (In a
/// cluster, replication and fencing are tested against real nodes: test_replication_identity.py, ..._failover.py.)
final class WriteAcknowledgerTests: XCTestCase {
    private func engine(_ io: FileIO = SystemFileIO(), sync: SyncMode = .flush) throws -> Engine {
        let dir = NSTemporaryDirectory() + "lynx-ack-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        var config = EngineConfig()
        config.dataDir = dir
        config.dimension = 2
        config.index = .flat
        config.syncMode = sync
        config.walMapAppends = false
        let engine = try Engine(config: config, io: io)
        try engine.recover()
        addTeardownBlock { engine.close(checkpoint: false) }
        return engine
    }

    /// The acknowledgement, waiting at most 10 s for a pending one; nil when it never came.
    private func outcome(_ wait: AcknowledgementWait) -> (Acknowledgement?, pending: Bool) {
        switch wait {
        case .decided(let ack):
            return (ack, false)
        case .pending(let start):
            let got = Mutex<Acknowledgement?>(nil)
            let done = DispatchSemaphore(value: 0)
            start { ack in
                got.withLock { $0 = ack }
                done.signal()
            }
            _ = done.wait(timeout: .now() + 10)
            return (got.withLock { $0 }, true)
        }
    }

    private let acknowledger = WriteAcknowledger(cluster: nil)

    private func upsert(_ e: Engine, id: UInt64, wait: WriteWait) throws -> (StoreWriteResult, (Acknowledgement?, pending: Bool)) {
        let (result, ack) = try acknowledger.write(.upsert([VectorRecord(id: id, vector: [1, 2])]), to: e, wait: wait)
        return (result, outcome(ack))
    }

    func testAWriteNotAskedDurableIsAcknowledgedAtOnceAndADurableOneOnceSynced() throws {
        let e = try engine()
        let (first, now) = try upsert(e, id: 1, wait: .applied)
        XCTAssertEqual(first, StoreWriteResult(lsn: 1, count: 1, acknowledgedAtOnce: false))
        XCTAssertEqual(now.0, .acknowledged(durable: false))
        XCTAssertFalse(now.pending)
        let (second, later) = try upsert(e, id: 2, wait: .durable)
        XCTAssertEqual(second.lsn, 2)
        XCTAssertEqual(later.0, .acknowledged(durable: true))
        XCTAssertTrue(later.pending)
        XCTAssertGreaterThanOrEqual(e.durableLSN, 2)
    }

    func testUnderSyncAlwaysEveryWriteWaitsForItsSync() throws {
        let e = try engine(sync: .always)
        let (_, ack) = try upsert(e, id: 1, wait: .applied)
        XCTAssertEqual(ack.0, .acknowledged(durable: true))
        XCTAssertTrue(ack.pending)
    }

    func testAFailedSyncIsNotDurableNeverAcknowledged() throws {
        let io = FaultInjectingFileIO()
        let e = try engine(io)
        io.fail(.fdatasync, errno: EIO)
        let (_, ack) = try upsert(e, id: 1, wait: .durable)
        guard case .notDurable(.failed)? = ack.0 else { return XCTFail("expected notDurable(.failed), got \(String(describing: ack.0))") }
    }

    func testAWriteTheStoreRefusesThrowsAndWritesNothing() throws {
        let e = try engine()
        XCTAssertThrowsError(try acknowledger.write(.delete(id: 9), to: e, wait: .durable)) { error in
            guard case EngineError.notFound(id: 9) = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(e.lastLSN, 0)
    }

    func testAMetadataIndexThatWasThereIsAcknowledgedAtOnceWithoutALogEntry() throws {
        let e = try engine()
        let path = FieldPath(dotted: "genre")
        let (made, _) = try acknowledger.write(.createMetadataIndex(path, .keyword), to: e, wait: .applied)
        XCTAssertEqual(made, StoreWriteResult(lsn: 1, count: 1, acknowledgedAtOnce: false))
        let (again, ack) = try acknowledger.write(.createMetadataIndex(path, .keyword), to: e, wait: .durable)
        XCTAssertEqual(again, StoreWriteResult(lsn: 1, count: 0, acknowledgedAtOnce: true))
        XCTAssertEqual(outcome(ack).0, .acknowledged(durable: false))
        XCTAssertEqual(e.lastLSN, 1)
    }
}

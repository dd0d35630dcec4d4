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

    func testAWriteNotAskedDurableIsAcknowledgedAtOnceAndADurableOneOnceSynced() throws {
        let e = try engine()
        let lsn = try e.upsert([VectorRecord(id: 1, vector: [1, 2])])
        let now = outcome(acknowledger.acknowledge(e, lsn: lsn, durable: false))
        XCTAssertEqual(now.0, .acknowledged(durable: false))
        XCTAssertFalse(now.pending)
        let later = outcome(acknowledger.acknowledge(e, lsn: lsn, durable: true))
        XCTAssertEqual(later.0, .acknowledged(durable: true))
        XCTAssertTrue(later.pending)
        XCTAssertGreaterThanOrEqual(e.durableLSN, lsn)
    }

    func testUnderSyncAlwaysEveryWriteWaitsForItsSync() throws {
        let e = try engine(sync: .always)
        let lsn = try e.upsert([VectorRecord(id: 1, vector: [1, 2])])
        let ack = outcome(acknowledger.acknowledge(e, lsn: lsn, durable: false))
        XCTAssertEqual(ack.0, .acknowledged(durable: true))
        XCTAssertTrue(ack.pending)
    }

    func testAFailedSyncIsNotDurableNeverAcknowledged() throws {
        let io = FaultInjectingFileIO()
        let e = try engine(io)
        io.fail(.fdatasync, errno: EIO)
        let lsn = try e.upsert([VectorRecord(id: 1, vector: [1, 2])])
        let ack = outcome(acknowledger.acknowledge(e, lsn: lsn, durable: true))
        guard case .notDurable(.failed)? = ack.0 else { return XCTFail("expected notDurable(.failed), got \(String(describing: ack.0))") }
    }
}

import LynxSupport
import Dispatch
import LynxEngine
import XCTest

/// Long maintenance is scheduled per store: one store's job (a backup, a rebuild) holds up that store's next job
/// only, never another store's maintenance or a collection's creation.
final class MaintenanceSchedulingTests: EngineTestCase {
    func testOneStoresLongJobHoldsUpOnlyItsOwnNextJob() throws {
        let db = try openDatabase(newDir())
        defer { db.close() }
        let (a, _) = try db.create(CollectionName("a")!, CollectionSettings(dimension: 2, index: .flat))
        let (b, _) = try db.create(CollectionName("b")!, CollectionSettings(dimension: 2, index: .flat))
        _ = try b.upsert([VectorRecord(id: 1, vector: [1, 2])])

        // A's first job runs until released.
        let release = DispatchSemaphore(value: 0)
        let aFirstStarted = expectation(description: "a's first job started")
        a.scheduleMaintenance {
            aFirstStarted.fulfill()
            _ = release.wait(timeout: .now() + 30)
        }
        wait(for: [aFirstStarted], timeout: 5)

        let aSecond = DispatchSemaphore(value: 0)
        a.scheduleMaintenance { aSecond.signal() }
        let bCheckpointed = expectation(description: "b's checkpoint")
        b.scheduleMaintenance {
            do { _ = try b.checkpoint() } catch { XCTFail("\(error)") }
            bCheckpointed.fulfill()
        }
        let created = expectation(description: "c created")
        db.scheduleCatalogChange {
            do { _ = try db.create(CollectionName("c")!, CollectionSettings(dimension: 2, index: .flat)) } catch { XCTFail("\(error)") }
            created.fulfill()
        }
        wait(for: [bCheckpointed, created], timeout: 10)
        XCTAssertEqual(b.logReport().checkpointSeq, 1)

        // A's queue is serial: its second job waits for the first.
        XCTAssertEqual(aSecond.wait(timeout: .now() + 0.3), .timedOut)
        release.signal()
        XCTAssertEqual(aSecond.wait(timeout: .now() + 10), .success)
    }
}

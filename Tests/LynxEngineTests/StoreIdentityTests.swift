import Foundation
import LynxStorage
import Synchronization
import XCTest
import LynxEngine

/// A store's id (`Engine.storeID`): drawn at each creation, kept across restarts, carried by a copy, and reported
/// when the store leaves the database, so that nothing remembered of an old store is taken for a new one's.
final class StoreIdentityTests: EngineTestCase {
    private let x = CollectionName("x")!
    private let settings = CollectionSettings(dimension: 2, index: .flat)

    func testAStoreMadeAnewUnderItsNameIsAnotherStoreAndItsPredecessorIsReportedGone() throws {
        let db = try openDatabase(newDir())
        defer { db.close() }
        let removed = Mutex<[StoreID]>([])
        db.onStoreRemoved { id in removed.withLock { $0.append(id) } }
        var seen: Set<StoreID> = [db.defaultEngine.storeID]
        for round in 0..<20 {
            let (engine, created) = try db.create(x, settings)
            XCTAssertTrue(created)
            _ = try engine.upsert([VectorRecord(id: UInt64(round), vector: [1, 2])])
            let id = engine.storeID
            XCTAssertTrue(seen.insert(id).inserted, "round \(round): the id \(id) was given before")
            XCTAssertEqual(try db.create(x, settings).engine.storeID, id, "creating it again changes nothing")
            try db.delete(x)
            XCTAssertEqual(removed.withLock { $0.last }, id)
        }
        XCTAssertEqual(removed.withLock { $0.count }, 20)
    }

    func testTheIdSurvivesARestartAndACopyTakesTheOriginalsId() throws {
        let dir = newDir()
        let (root, made, given): (StoreID, StoreID, StoreID)
        do {
            let db = try openDatabase(dir)
            defer { db.close() }
            root = db.defaultEngine.storeID
            made = try db.create(x, settings).engine.storeID
            given = StoreID(rawValue: 0xfeed_beef)!
            XCTAssertEqual(try db.create(CollectionName("copy")!, settings, storeID: given).engine.storeID, given)
        }
        let db = try openDatabase(dir)
        defer { db.close() }
        XCTAssertEqual(db.defaultEngine.storeID, root)
        XCTAssertEqual(db.engine(x)?.storeID, made)
        XCTAssertEqual(db.engine(CollectionName("copy")!)?.storeID, given)
    }

    func testOnlyAnEmptyStoreTakesAnotherStoresIdAndKeepsIt() throws {
        let dir = newDir()
        let leader = StoreID(rawValue: 4242)!
        do {
            let db = try openDatabase(dir)
            defer { db.close() }
            try db.defaultEngine.adoptStoreID(leader)
            XCTAssertEqual(db.defaultEngine.storeID, leader)
            _ = try db.defaultEngine.upsert([VectorRecord(id: 1, vector: [1, 1])])
            XCTAssertThrowsError(try db.defaultEngine.adoptStoreID(StoreID(rawValue: 7)!))
            XCTAssertEqual(db.defaultEngine.storeID, leader)
        }
        let db = try openDatabase(dir)
        defer { db.close() }
        XCTAssertEqual(db.defaultEngine.storeID, leader, "the manifest keeps the adopted id")
    }

    func testAReplacedStoreIsReportedGone() throws {
        let root = newDir()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let source = try openDatabase(root + "/a")
        _ = try source.defaultEngine.upsert([VectorRecord(id: 1, vector: [1, 0])])
        let backup = try source.defaultEngine.createBackup()
        let opened = try source.defaultEngine.openBackup(backup.name)
        let archive = root + "/a.tar"
        try FileHandle(fileDescriptor: opened.fd, closeOnDealloc: true).readToEnd()!.write(to: URL(fileURLWithPath: archive))
        let sourceID = source.defaultEngine.storeID
        source.close()

        let db = try openDatabase(root + "/b")
        defer { db.close() }
        let before = db.defaultEngine.storeID
        let removed = Mutex<[StoreID]>([])
        db.onStoreRemoved { id in removed.withLock { $0.append(id) } }
        _ = try db.replaceStore(.default, withArchive: archive)
        XCTAssertEqual(removed.withLock { $0 }, [before])
        XCTAssertEqual(db.defaultEngine.storeID, sourceID, "the copy is the backed-up store")
    }
}

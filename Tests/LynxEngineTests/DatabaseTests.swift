import Glibc
import LynxIndex
import LynxStorage
import XCTest
import LynxEngine

/// Collections at the engine level: creation and deletion are durable and atomic, a failed file operation leaves
/// nothing half done, and a reopened database finds every collection with its settings and records.
final class DatabaseTests: XCTestCase {
    private func newDir() -> String {
        let dir = NSTemporaryDirectory() + "lynx-db-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    private func open(_ dir: String, io: FileIO = SystemFileIO(), maxCollections: Int = 16) throws -> Database {
        var config = EngineConfig()
        config.dataDir = dir
        config.dimension = 4
        config.index = .flat
        config.indexThreads = 1
        let db = try Database(config: config, maxCollections: maxCollections, io: io)
        try db.recoverAll()
        return db
    }

    private func name(_ s: String) -> CollectionName { CollectionName(s)! }

    func testNamesAreValidatedByTheirCharactersAndLength() {
        for good in ["a", "A-z_09", String(repeating: "x", count: 64), "default"] { XCTAssertNotNil(CollectionName(good), good) }
        for bad in ["", String(repeating: "x", count: 65), "a.b", "a/b", ".creating-a", "é", "a b", "a\0"] {
            XCTAssertNil(CollectionName(bad), bad)
        }
    }

    func testCollectionsKeepTheirSettingsAndRecordsAcrossAReopen() throws {
        let dir = newDir()
        do {
            let db = try open(dir)
            defer { db.close() }
            let (books, created) = try db.create(name("books"), CollectionSettings(dimension: 3, metric: .cosine, index: .flat))
            XCTAssertTrue(created)
            _ = try books.upsert([VectorRecord(id: 7, vector: [1, 2, 3])])
            let (graph, _) = try db.create(name("graph"), CollectionSettings(dimension: 2, index: .hnsw, parameters: IndexParameters(m: 8)))
            _ = try graph.upsert([VectorRecord(id: 1, vector: [0.5, 0.25])])
            _ = try db.defaultEngine.upsert([VectorRecord(id: 7, vector: [9, 9, 9, 9])])
            // The same settings again: nothing changes; others: a conflict naming the stored ones.
            XCTAssertFalse(try db.create(name("books"), CollectionSettings(dimension: 3, metric: .cosine, index: .flat)).created)
            XCTAssertFalse(try db.create(name("graph"), CollectionSettings(dimension: 2, index: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 200))).created)
            XCTAssertThrowsError(try db.create(name("graph"), CollectionSettings(dimension: 2, index: .hnsw))) { error in
                guard case CollectionError.conflict(_, let existing) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(existing.index.parameters[.m], 8)
            }
        }
        let db = try open(dir)
        defer { db.close() }
        XCTAssertEqual(db.collections.map(\.name.value), ["default", "books", "graph"])
        XCTAssertEqual(try db.engine(name("books"))!.get(7)?.vector, [1, 2, 3])
        XCTAssertEqual(db.engine(name("books"))!.storedSettings,
                       StoredCollectionSettings(dimension: 3, metric: .cosine, index: .flat))
        XCTAssertEqual(db.engine(name("graph"))!.storedSettings.index, .hnsw(m: 8, efConstruction: 200))
        XCTAssertEqual(try db.engine(name("graph"))!.get(1)?.vector, [0.5, 0.25])
        XCTAssertEqual(try db.defaultEngine.get(7)?.vector, [9, 9, 9, 9])
    }

    func testDeleteRemovesTheFilesAndTheDefaultIsProtected() throws {
        let dir = newDir()
        let db = try open(dir)
        defer { db.close() }
        let (books, _) = try db.create(name("books"), CollectionSettings(dimension: 3, index: .flat))
        _ = try books.upsert([VectorRecord(id: 1, vector: [1, 2, 3])])
        try db.delete(name("books"))
        XCTAssertNil(db.engine(name("books")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/collections/books"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/collections"), [])
        // A write that held the old engine fails instead of reaching a closed log.
        XCTAssertThrowsError(try books.upsert([VectorRecord(id: 2, vector: [1, 2, 3])]))
        XCTAssertThrowsError(try db.delete(name("books"))) { XCTAssertEqual($0 as? CollectionError, .notFound(self.name("books"))) }
        XCTAssertThrowsError(try db.delete(.default)) { XCTAssertEqual($0 as? CollectionError, .protected(.default)) }
        let (again, created) = try db.create(name("books"), CollectionSettings(dimension: 5, index: .flat))
        XCTAssertTrue(created)
        XCTAssertEqual(again.count, 0)
    }

    func testTheLimitCountsCollectionsBesidesDefault() throws {
        let db = try open(newDir(), maxCollections: 2)
        defer { db.close() }
        _ = try db.create(name("a"), CollectionSettings(dimension: 2, index: .flat))
        _ = try db.create(name("b"), CollectionSettings(dimension: 2, index: .flat))
        XCTAssertThrowsError(try db.create(name("c"), CollectionSettings(dimension: 2, index: .flat))) {
            XCTAssertEqual($0 as? CollectionError, .tooMany(limit: 2))
        }
        XCTAssertThrowsError(try db.create(name("c"), CollectionSettings(dimension: 0, index: .flat))) {
            guard case CollectionError.settingOutOfRange(.dimension, _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try db.create(name("c"), CollectionSettings(dimension: 2, index: .flat, parameters: IndexParameters(m: 8)))) {
            guard case CollectionError.invalidSetting(.parameter(.m), _) = $0 else { return XCTFail("\($0)") }
        }
    }

    func testUnfinishedCreationsAndDeletionsAreRemovedAtOpen() throws {
        let dir = newDir()
        do {
            let db = try open(dir)
            _ = try db.create(name("kept"), CollectionSettings(dimension: 2, index: .flat))
            db.close()
        }
        let fm = FileManager.default
        for leftover in [".creating-half", ".deleting-gone-1"] {
            try fm.createDirectory(atPath: "\(dir)/collections/\(leftover)/rows", withIntermediateDirectories: true)
            _ = fm.createFile(atPath: "\(dir)/collections/\(leftover)/MANIFEST", contents: Data("x".utf8))
        }
        let db = try open(dir)
        defer { db.close() }
        XCTAssertEqual(db.collections.map(\.name.value), ["default", "kept"])
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: dir + "/collections"), ["kept"])
    }

    /// Each file operation of a creation failing in turn: the creation throws, and leaves no collection (now or
    /// after a reopen) and no staging folder; the next creation succeeds.
    func testAFailedCreationLeavesNothing() throws {
        // How often a successful creation calls each operation on the collections' folders: each call fails in turn.
        let probe = FaultInjectingFileIO()
        let counted: [FaultInjectingFileIO.Operation] = [.rename, .fsyncDirectory, .createDirectory, .pwrite, .fsync]
        let probeDB = try open(newDir(), io: probe)
        let before = counted.map { probe.calls($0) }
        _ = try probeDB.create(name("c"), CollectionSettings(dimension: 2, index: .flat))
        let cases = zip(counted, before).flatMap { op, n in (0..<(probe.calls(op) - n)).map { (op, $0) } }
        probeDB.close()
        XCTAssertGreaterThanOrEqual(cases.filter { $0.0 == .fsyncDirectory }.count, 3, "\(cases)")
        for (op, skip) in cases {
            let dir = newDir()
            let io = FaultInjectingFileIO()
            let db = try open(dir, io: io)
            io.fail(op, errno: EIO, after: skip)
            XCTAssertThrowsError(try db.create(name("c"), CollectionSettings(dimension: 2, index: .flat)), "\(op) \(skip)") {
                guard case CollectionError.storage(let detail) = $0 else { return XCTFail("\($0)") }
                XCTAssertFalse(detail.contains(dir), "a storage error names a server path: \(detail)")
            }
            XCTAssertNil(db.engine(name("c")))
            io.clearFaults()
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/collections")) ?? []
            XCTAssertEqual(entries, [], "\(op) \(skip)")
            db.close()
            let reopened = try open(dir)
            XCTAssertEqual(reopened.collections.map(\.name.value), ["default"], "\(op) \(skip)")
            XCTAssertTrue(try reopened.create(name("c"), CollectionSettings(dimension: 2, index: .flat)).created)
            reopened.close()
        }
    }

    /// A deletion whose rename fails leaves the collection whole and served.
    func testAFailedDeletionKeepsTheCollection() throws {
        let dir = newDir()
        let io = FaultInjectingFileIO()
        let db = try open(dir, io: io)
        defer { db.close() }
        let (c, _) = try db.create(name("c"), CollectionSettings(dimension: 2, index: .flat))
        _ = try c.upsert([VectorRecord(id: 3, vector: [1, 1])])
        io.fail(.rename, errno: EIO, pathContaining: "collections/c")
        XCTAssertThrowsError(try db.delete(name("c")))
        let served = try XCTUnwrap(db.engine(name("c")))
        XCTAssertEqual(try served.get(3)?.vector, [1, 1])
        _ = try served.upsert([VectorRecord(id: 4, vector: [2, 2])])
        XCTAssertEqual(served.count, 2)
    }
}

import Foundation
import LynxStorage
import Synchronization
import XCTest
import LynxEngine

/// `WriteGate`: a node that does not lead refuses client writes in its stores themselves, before anything is
/// written, while the writes it makes as its leader's copy and the maintenance of its own copy go on.
final class WriteGateTests: EngineTestCase {
    func testAClosedGateRefusesEveryClientWriteAndChangesNothing() throws {
        let db = try openDatabase(newDir())
        defer { db.close(checkpoint: false) }
        let books = try db.create(CollectionName("books")!, CollectionSettings(dimension: 2, index: .flat)).engine
        // HNSW links in the background: its writes take the pending-tail path.
        let graph = try db.create(CollectionName("graph")!, CollectionSettings(dimension: 2, index: .hnsw)).engine
        XCTAssertTrue(graph.linksInBackground)
        _ = try db.defaultEngine.upsert([VectorRecord(id: 1, vector: [1, 1])])
        let refusal = WriteRefusal(node: "n2", leaderNode: "n1", leaderURL: "http://127.0.0.1:7311")
        let closed = Atomic<Bool>(true)
        db.writeGate.install { closed.load(ordering: .relaxed) ? refusal : nil }
        let before = db.defaultEngine.lastLSN

        func refused(_ label: String, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body(), label) { error in
                switch error {
                case EngineError.writeRefused(let r), CollectionError.writeRefused(let r): XCTAssertEqual(r, refusal, label)
                default: XCTFail("\(label): \(error)")
                }
            }
        }
        refused("upsert") { _ = try db.defaultEngine.upsert([VectorRecord(id: 2, vector: [2, 2])]) }
        refused("delete") { _ = try db.defaultEngine.delete(1) }
        refused("delete ids") { _ = try db.defaultEngine.delete(ids: [1]) }
        refused("delete matching") { _ = try db.defaultEngine.delete(matching: .all) }
        refused("create index") { _ = try db.defaultEngine.createMetadataIndex(FieldPath(["tag"]), type: .keyword) }
        refused("collection upsert") { _ = try books.upsert([VectorRecord(id: 9, vector: [1, 2])]) }
        refused("graph upsert") { _ = try graph.upsert([VectorRecord(id: 9, vector: [1, 2])]) }
        refused("create collection") { _ = try db.create(CollectionName("new")!, CollectionSettings(dimension: 2)) }
        refused("delete collection") { try db.delete(CollectionName("books")!) }
        XCTAssertEqual(db.defaultEngine.lastLSN, before, "nothing was written")
        XCTAssertEqual(db.defaultEngine.count, 1)
        XCTAssertNotNil(db.engine(CollectionName("books")!))

        // What a follower does as its leader's copy, and for its own copy, goes on.
        let applied = try db.defaultEngine.applyReplicated([LoggedTransaction(firstLSN: before + 1, ops: [.upsert(id: 5, vector: [5, 5], metadata: [])])])
        XCTAssertEqual(applied, before + 1)
        XCTAssertEqual(try graph.applyReplicated([LoggedTransaction(firstLSN: 1, ops: [.upsert(id: 3, vector: [3, 3], metadata: [])])]), 1)
        XCTAssertEqual(graph.count, 1)
        XCTAssertEqual(try db.create(CollectionName("copy")!, CollectionSettings(dimension: 2), storeID: StoreID(rawValue: 77)).created, true)
        try db.delete(CollectionName("books")!, replicating: true)
        _ = try db.defaultEngine.rebuildIndex()
        _ = try db.defaultEngine.checkpoint()

        closed.store(false, ordering: .relaxed)
        XCTAssertNoThrow(try db.defaultEngine.upsert([VectorRecord(id: 2, vector: [2, 2])]))
    }
}

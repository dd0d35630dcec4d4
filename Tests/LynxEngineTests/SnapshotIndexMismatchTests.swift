import Foundation
import LynxEngine
import LynxIndex
import LynxStorage
import XCTest

/// A snapshot whose checksums hold but whose index section is for another dimension, metric or index kind than
/// its store is refused at recovery, instead of serving searches that trap on the first query (found by
/// Fuzz/snapshot; its input is kept as Fuzz/corpus/snapshot/regression-index-dimension-mismatch).
final class SnapshotIndexMismatchTests: EngineTestCase {
    private func storeWithForeignIndex(_ foreign: any VectorIndex) throws -> String {
        let dir = newDir()
        let engine = try open(dir, index: .hnsw, dimension: 4)
        _ = try engine.upsert((1...5).map { VectorRecord(id: UInt64($0), vector: [Float($0), 0, 1, 0]) })
        _ = try engine.checkpoint()
        engine.close(checkpoint: false)
        let (_, path) = try XCTUnwrap(try SnapshotFile.list(dir: dir).last)
        var snapshot = try SnapshotFile.read(path: path)
        let bytes = foreign.serializedBytes()
        snapshot.sections = snapshot.sections.map { $0.tag == 2 ? SnapshotSection(tag: 2, bytes: bytes) : $0 }
        try FileManager.default.removeItem(atPath: path)
        _ = try SnapshotFile.write(snapshot, dir: dir)
        return dir
    }

    private func assertRefused(_ foreign: any VectorIndex, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try storeWithForeignIndex(foreign)
        XCTAssertThrowsError(try open(dir, index: .hnsw, dimension: 4), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains("index section"), "\(error)", file: file, line: line)
        }
    }

    func testAnIndexOfAnotherDimensionIsRefused() throws {
        var other = HNSWIndex(dimension: 3, metric: .l2, m: 8)
        other.upsert(id: 1, vector: [1, 2, 3])
        try assertRefused(other)
    }

    func testAnIndexOfAnotherMetricOrKindIsRefused() throws {
        var cosine = HNSWIndex(dimension: 4, metric: .cosine, m: 8)
        cosine.upsert(id: 1, vector: [1, 2, 3, 4])
        try assertRefused(cosine)
        var flat = FlatIndex(dimension: 4, metric: .l2)
        flat.upsert(id: 1, vector: [1, 2, 3, 4])
        try assertRefused(flat)
    }
}

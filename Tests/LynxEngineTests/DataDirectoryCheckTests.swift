import Foundation
import LynxEngine
import LynxIndex
import XCTest

/// `DataDirectoryCheck` runs recovery's own snapshot choice and replay (`LogReplay`) read-only: what it reports must
/// be what the next recovery does, and it must leave the directory as it found it.
final class DataDirectoryCheckTests: EngineTestCase {
    func record(_ id: UInt64) -> VectorRecord {
        let x = Float(id)
        return VectorRecord(id: id, vector: (0..<16).map { x + Float($0) }, metadata: nil)
    }

    func listing(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: dir)! {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir)
            out[name] = isDir.boolValue ? Data() : FileManager.default.contents(atPath: dir + "/" + name)
        }
        return out
    }

    func testReportMatchesTheNextRecovery() throws {
        for index in [IndexKind.flat, .hnsw] {
            let dir = newDir()
            let engine = try open(dir, index: index)
            _ = try engine.upsert((1...30).map(record))
            _ = try engine.checkpoint()
            _ = try engine.upsert((31...40).map(record))
            _ = try engine.delete(5)
            _ = try engine.delete(ids: [6, 7])
            engine.close(checkpoint: false)

            let before = try listing(dir)
            let report = try DataDirectoryCheck.run(dataDir: dir)
            XCTAssertEqual(try listing(dir), before, "\(index): check changed the directory")
            XCTAssertTrue(report.isHealthy, "\(index): \(report.stores.flatMap(\.findings))")
            XCTAssertNil(report.lockHolder)
            let plan = try XCTUnwrap(report.stores.first?.recovery)
            XCTAssertEqual(plan.snapshotSeq, 1)
            XCTAssertEqual(plan.snapshotLSN, 30)
            XCTAssertEqual(plan.replayedFrames, 10 + 1 + 2)

            let again = try open(dir, index: index)
            defer { again.close(checkpoint: false) }
            XCTAssertEqual(plan.records, again.count, "\(index)")
            XCTAssertEqual(plan.records, 37)
            XCTAssertEqual(plan.lastLSN, again.lastLSN, "\(index)")
            XCTAssertEqual(Double(plan.replayedFrames), again.metrics.recoveryFramesReplayed.current, "\(index)")
        }
    }

    func testNotADataDirectoryIsAUsageError() throws {
        let dir = newDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try DataDirectoryCheck.run(dataDir: dir)) { XCTAssertTrue($0 is DataDirectoryCheck.NotADataDirectory) }
        XCTAssertThrowsError(try DataDirectoryCheck.run(dataDir: dir + "/missing"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}

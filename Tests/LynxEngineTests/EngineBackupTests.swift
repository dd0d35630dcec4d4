import Foundation
import Logging
import LynxEngine
import LynxIndex
import LynxStorage
import XCTest

/// Backups through the engine (docs/BACKUP.md): the archive holds the store at the checkpoint's LSN, pending HNSW
/// records and metadata indexes included; a failed backup leaves nothing; a restored store equals the source.
final class EngineBackupTests: EngineTestCase {
    func records(_ ids: Range<Int>, dimension: Int = 16) throws -> [VectorRecord] {
        try ids.map { i in
            VectorRecord(id: UInt64(i), vector: (0..<dimension).map { Float((i * 31 + $0) % 17) / 4 },
                         metadata: try Metadata(json: Array("{\"g\":\(i % 3)}".utf8)))
        }
    }

    func testPendingRecordsAndMetadataIndexesAreInTheRestoredStore() throws {
        let source = newDir()
        let engine = try open(source) { $0.linkingStartsPaused = true }  // every record stays pending
        _ = try engine.upsert(try records(0..<300))
        _ = try engine.createMetadataIndex(FieldPath(dotted: "g"), type: .integer)
        XCTAssertEqual(engine.pendingCount, 300)
        let lsn = engine.lastLSN  // one frame per record, then the index's
        XCTAssertEqual(lsn, 301)
        let made = try engine.createBackup(named: BackupName("b1"))
        _ = try engine.upsert(try records(300..<310))  // after the backup: not in it
        XCTAssertEqual(made.lsn, lsn)
        XCTAssertEqual(made.records, 300)
        XCTAssertEqual(try engine.listBackups().map(\.name.value), ["b1"])
        let archive = source + "/backups/b1.tar"
        XCTAssertEqual(try BackupArchive.verify(path: archive, io: SystemFileIO()).info.lsn, lsn)

        let target = newDir()
        let report = try StoreRestore.restore(archive: archive, dataDir: target, replace: false, logger: Logger(label: "test"))
        XCTAssertEqual(report.storeDirectory, target)
        let restored = try open(target)
        XCTAssertEqual(restored.count, 300)
        XCTAssertEqual(restored.lastLSN, lsn)
        XCTAssertEqual(restored.metadataIndexes.map(\.path.description), ["g"])
        for record in try records(0..<300) {
            XCTAssertEqual(try restored.get(record.id)?.vector, record.vector)
        }
        XCTAssertNil(try restored.get(305))
        restored.close(checkpoint: false)
        engine.close(checkpoint: false)
    }

    func testAFailedBackupLeavesNothingAndTheStoreWorks() throws {
        let dir = newDir()
        let io = FaultInjectingFileIO()
        var config = EngineConfig.forTests(dir: dir, dimension: 16, index: .flat)
        config.backupsKept = 2
        let engine = try Engine(config: config, io: io)
        try engine.recover()
        _ = try engine.upsert(try records(0..<50))
        io.fail(.pwrite, errno: ENOSPC, after: 2, pathContaining: ".tar.tmp")
        XCTAssertThrowsError(try engine.createBackup()) { error in
            guard case EngineError.noSpace = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/backups"), [], "no archive, staging or temporary file")
        XCTAssertEqual(try engine.listBackups().count, 0)
        _ = try engine.upsert(try records(50..<60))
        var names: [String] = []
        for _ in 0..<3 { names.append(try engine.createBackup().name.value) }
        XCTAssertEqual(Set(names).count, 3, "generated names are unique: \(names)")
        XCTAssertEqual(try engine.listBackups().map(\.name.value), Array(names.suffix(2)), "the oldest beyond backupsKept is removed")
        XCTAssertThrowsError(try engine.createBackup(named: BackupName(names[2]))) { error in
            XCTAssertEqual(error as? BackupError, .alreadyExists(BackupName(names[2])!))
        }
        try engine.deleteBackup(BackupName(names[2])!)
        XCTAssertThrowsError(try engine.openBackup(BackupName(names[2])!)) { error in
            XCTAssertEqual(error as? BackupError, .notFound(BackupName(names[2])!))
        }
        XCTAssertEqual(engine.count, 60)
        engine.close(checkpoint: false)
    }
}

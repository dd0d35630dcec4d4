import Foundation
import LynxEngine
import LynxIndex
import LynxStorage
import XCTest

/// Checkpoints keep the vectors in row chunk files (`rows/`, 1,024 rows each) and write only the chunks written
/// to since the last checkpoint; recovery reads them back and refuses any that is missing or damaged.
extension EngineDurabilityTests {
    var rowsDir: String { dir + "/rows" }

    func rowFiles() -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: rowsDir)) ?? []).filter { $0.hasSuffix(".lrows") })
    }

    func testCheckpointWritesOnlyChangedRowChunksAndRecoveryIsExact() throws {
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open()
            for i in 0..<3000 as Range<UInt64> {  // 3 chunks
                expected[i] = record(i, Float(i))
            }
            _ = try engine.upsert(expected.keys.sorted().map { expected[$0]! })
            let first = try engine.checkpoint()
            XCTAssertEqual([first.rowChunksWritten, first.rowChunksReused], [3, 0])
            let firstFiles = rowFiles()
            XCTAssertEqual(firstFiles.count, 3)

            _ = try engine.upsert([record(5, -5)])  // a row in chunk 0
            expected[5] = record(5, -5)
            let second = try engine.checkpoint()
            XCTAssertEqual([second.rowChunksWritten, second.rowChunksReused], [1, 2])
            let secondFiles = rowFiles()
            XCTAssertEqual(secondFiles.count, 3, "the replaced chunk's file is removed once the new snapshot is safe")
            XCTAssertEqual(firstFiles.intersection(secondFiles).count, 2)

            let third = try engine.checkpoint()
            XCTAssertEqual([third.rowChunksWritten, third.rowChunksReused], [0, 3])
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        let reopened = try open()
        try assertStored(reopened, expected)
        let afterRestart = try reopened.checkpoint()
        XCTAssertEqual([afterRestart.rowChunksWritten, afterRestart.rowChunksReused], [0, 3],
                       "chunks loaded from their files are not written again")
        reopened.close()
    }

    func testACheckpointThatFailedBeforeItsSnapshotLeavesNoChunkTrusted() throws {
        let io = FaultInjectingFileIO()
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open(io)
            for i in 0..<2048 as Range<UInt64> { expected[i] = record(i, Float(i)) }
            _ = try engine.upsert(expected.keys.sorted().map { expected[$0]! })
            _ = try engine.checkpoint()
            _ = try engine.upsert([record(5, 1), record(2000, 1)])  // chunks 0 and 1
            expected[5] = record(5, 1)
            expected[2000] = record(2000, 1)
            // The first changed chunk's file is written, the second's open finds the disk full: the checkpoint
            // fails before its files are synced, and the first file must not be reused as if it were durable.
            io.fail(.open, errno: ENOSPC, after: 1, pathContaining: "/rows/")
            XCTAssertThrowsError(try engine.checkpoint()) { error in
                guard case EngineError.noSpace = error else { return XCTFail("expected noSpace, got \(error)") }
            }
            XCTAssertEqual(rowFiles().count, 3, "two old files and the failed checkpoint's one")
            io.clearFaults()
            _ = try engine.upsert([record(6, 2)])  // writes go on
            expected[6] = record(6, 2)
            let retry = try engine.checkpoint()
            XCTAssertEqual([retry.rowChunksWritten, retry.rowChunksReused], [2, 0])
            XCTAssertEqual(rowFiles().count, 2, "the failed checkpoint's file and the replaced ones are removed")
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        try assertRestartRecovers(expected)
    }

    func testAMissingRowChunkFileFallsBackToTheLogWhenItStillStartsAtLSN1() throws {
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open()
            for i in 0..<1500 as Range<UInt64> { expected[i] = record(i, Float(i)) }
            _ = try engine.upsert(expected.keys.sorted().map { expected[$0]! })
            _ = try engine.checkpoint()  // one checkpoint: generation 0's log still holds LSN 1 on
            _ = try engine.upsert([record(7, 70)])
            expected[7] = record(7, 70)
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        let victim = try XCTUnwrap(rowFiles().sorted().first)
        try FileManager.default.removeItem(atPath: rowsDir + "/" + victim)
        let reopened = try open()
        try assertStored(reopened, expected)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/" + SnapshotFile.fileName(checkpointSeq: 1)),
                       "the unusable snapshot is moved aside")
        reopened.close()
    }

    func testAMissingRowChunkFileWithoutTheWholeLogIsRefused() throws {
        do {
            let engine = try open()
            _ = try engine.upsert((0..<1100 as Range<UInt64>).map { record($0, Float($0)) })
            _ = try engine.checkpoint()
            _ = try engine.upsert([record(1, 1)])
            _ = try engine.checkpoint()  // generation 0 (LSN 1 on) is gone once generation 2 reuses its file
            _ = try engine.upsert([record(2, 2)])
            _ = try engine.checkpoint()
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        let victim = try XCTUnwrap(rowFiles().sorted().last)
        var bytes = [UInt8](FileManager.default.contents(atPath: rowsDir + "/" + victim)!)
        bytes[4096 + 3] ^= 1
        XCTAssertTrue(FileManager.default.createFile(atPath: rowsDir + "/" + victim, contents: Data(bytes)))
        let engine = try Engine(config: config(), io: SystemFileIO())
        XCTAssertThrowsError(try engine.recover()) { error in
            XCTAssertTrue("\(error)".contains("the log starts at LSN"), "refuses rather than starting without the rows: \(error)")
        }
        engine.close()
    }
}

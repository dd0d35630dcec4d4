import Foundation
import LynxStorage
import XCTest

/// Starting a new generation in an old log file (what the engine does at a checkpoint): rollback-free, so old
/// frames stay on disk until overwritten, and they must never be replayed.
final class WALReuseTests: XCTestCase {
    func testOldFramesAreNeverReplayedAfterReuseEvenWhenTheNewGenerationIsShorter() throws {
        let dir = makeTempDir()
        defer { removeDir(dir) }
        let path = dir + "/wal-0.log"
        let old = try WALWriter(creating: path, checkpointSeq: 0, firstLSN: 1)
        for i in 0..<40 as Range<UInt64> { _ = try old.append([upsert(i)]) }
        let oldEnd = old.endOffset
        let oldSalt1 = old.currentHeader.salt1
        try old.close()
        let oldSize = fileSize(path)
        XCTAssertGreaterThanOrEqual(oldSize, oldEnd)

        // No preallocation: the old frames are left in place (as where the filesystem cannot zero a range).
        let reused = try WALWriter(reusing: path, checkpointSeq: 2, firstLSN: 100, truncateAbove: 1 << 30, preallocationBytes: 0)
        XCTAssertNotEqual(reused.currentHeader.salt1, oldSalt1)
        _ = try reused.append([upsert(1000)])
        _ = try reused.append([upsert(1001), upsert(1002)])
        try reused.close()
        // Not truncated: the old frames' bytes are still there beyond the new end.
        XCTAssertEqual(fileSize(path), oldSize)
        XCTAssertLessThan(reused.endOffset, oldEnd)

        let (result, txs) = try recoverAll(path)
        XCTAssertEqual(result.header?.checkpointSeq, 2)
        XCTAssertEqual(txs.map(\.lsn), [100, 102])
        XCTAssertEqual(txs.flatMap(\.ops), [upsert(1000), upsert(1001), upsert(1002)])
        XCTAssertFalse(result.isCorruption, "stale frames of an older generation are not damage")
    }

    /// With preallocation (the engine's setting) a reused file's old frames become zeros to the end of the file
    /// (fallocate ZERO_RANGE): the new generation then appends as into a fresh file, and recovery ends cleanly.
    /// Where zeroing a range fails (EOPNOTSUPP), the old frames stay and die by their salts as above.
    func testReuseZeroesTheOldFramesOrLeavesThemWhenItCannot() throws {
        for zeroRangeWorks in [true, false] {
            let dir = makeTempDir()
            defer { removeDir(dir) }
            let path = dir + "/wal-0.log"
            let old = try WALWriter(creating: path, checkpointSeq: 0, firstLSN: 1)
            for i in 0..<40 as Range<UInt64> { _ = try old.append([upsert(i)]) }
            try old.close()
            let oldSize = fileSize(path)

            let io = FaultInjectingFileIO()
            if !zeroRangeWorks { io.fail(.zeroRange, errno: EOPNOTSUPP) }
            let reused = try WALWriter(reusing: path, checkpointSeq: 2, firstLSN: 100, truncateAbove: 1 << 30, io: io)
            _ = try reused.append([upsert(1000)])
            _ = try reused.append([upsert(1001), upsert(1002)])
            let end = reused.endOffset
            try reused.close()
            XCTAssertEqual(fileSize(path), oldSize, "not truncated")

            let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
            let zeroTail = bytes[Int(end)...].allSatisfy { $0 == 0 }
            XCTAssertEqual(zeroTail, zeroRangeWorks, "zero range \(zeroRangeWorks): zeros after the new frames to the end")
            let (result, txs) = try recoverAll(path)
            XCTAssertEqual(txs.map(\.lsn), [100, 102])
            XCTAssertFalse(result.isCorruption)
            if zeroRangeWorks { XCTAssertEqual(result.stopReason, .endOfLog) }
        }
    }

    func testReuseTruncatesOnlyAboveTheLimit() throws {
        let dir = makeTempDir()
        defer { removeDir(dir) }
        let path = dir + "/wal-1.log"
        let old = try WALWriter(creating: path)
        for i in 0..<40 as Range<UInt64> { _ = try old.append([upsert(i)]) }
        try old.close()
        let size = UInt64(readFile(path).count)
        let reused = try WALWriter(reusing: path, checkpointSeq: 1, firstLSN: 41, truncateAbove: size - 1)
        try reused.close()
        XCTAssertEqual(readFile(path).count, 40, "a file above the limit is cut back to its header")
        let (_, txs) = try recoverAll(path)
        XCTAssertTrue(txs.isEmpty)
    }

    func testReuseCreatesAMissingFile() throws {
        let dir = makeTempDir()
        defer { removeDir(dir) }
        let writer = try WALWriter(reusing: dir + "/wal-1.log", checkpointSeq: 3, firstLSN: 7, truncateAbove: 1 << 20)
        XCTAssertEqual(try writer.append([.delete(id: 9)]), 7)
        try writer.close()
        let (_, txs) = try recoverAll(dir + "/wal-1.log")
        XCTAssertEqual(txs.map(\.lsn), [7])
    }
}

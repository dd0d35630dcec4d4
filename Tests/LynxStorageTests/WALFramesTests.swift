import Foundation
import LynxStorage
import XCTest

/// `WALReader.frames`: every frame of a file with what replay makes of it, including the frames after the stop.
final class WALFramesTests: XCTestCase {
    var dir = ""
    var path = ""
    override func setUp() { dir = makeTempDir(); path = dir + "/wal.log" }
    override func tearDown() { removeDir(dir) }

    /// Five single-frame transactions, then a two-frame one.
    func sample() -> [[WALOperation]] { (1...5).map { [upsert(UInt64($0))] } + [[upsert(6), .delete(id: 2)]] }

    func frames() throws -> (WALRecoveryResult, [WALFrameReport]) {
        var got: [WALFrameReport] = []
        let r = try WALReader(path: path, io: ReadOnlyFileIO(), bufferSize: 4096).frames { got.append($0) }
        return (r, got)
    }

    func testCleanLogListsEveryFrameCommittedAndAgreesWithRecover() throws {
        let txs = sample()
        _ = try writeLog(path, txs)
        let (r, got) = try frames()
        XCTAssertEqual(r, try recoverAll(path).0)
        XCTAssertEqual(got.map(\.lsn), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(got.compactMap(\.operation), txs.flatMap { $0 })
        XCTAssertEqual(got.map(\.isCommit), [true, true, true, true, true, false, true])
        XCTAssertTrue(got.allSatisfy { $0.replay == .committed && $0.problem == nil })
        XCTAssertEqual(got.first?.offset, UInt64(WALFormat.headerSize))
    }

    func testTransactionWithoutItsCommitFrameIsListedUncommitted() throws {
        let (bytes, ends, _) = try writeLog(path, sample())
        let head = Array(bytes[0..<Int(ends[4])])
        let tx = Array(bytes[Int(ends[4])..<Int(ends[5])])  // upsert(6) (67 bytes), then the delete's commit frame
        // The commit frame's header whole, its payload cut: listed as the frame replay stops at.
        writeFile(path, head + tx.prefix(67 + 36))
        var (r, got) = try frames()
        XCTAssertEqual(r.stopReason, .tornFrame)
        XCTAssertEqual(got.map(\.replay), [.committed, .committed, .committed, .committed, .committed, .uncommitted, .stop(.tornFrame)])
        XCTAssertEqual(got.last?.problem, .tornFrame)
        XCTAssertEqual(got.last?.lsn, 7)
        XCTAssertNil(got.last?.operation)
        // Less than a frame header left: nothing to list; the result says where replay stopped.
        writeFile(path, head + tx.prefix(67 + 10))
        (r, got) = try frames()
        XCTAssertEqual(got.map(\.replay).last, .uncommitted)
        XCTAssertEqual(r.stopOffset, ends[4] + 67)
        XCTAssertEqual(r.validEndOffset, ends[4])
    }

    func testFramesAfterAFlippedPayloadByteAreListedIntactButNotReplayed() throws {
        let txs = sample()
        let (bytes, ends, _) = try writeLog(path, txs)
        var damaged = bytes
        damaged[Int(ends[1]) + WALFormat.frameHeaderSize + 3] ^= 0x40  // the id of LSN 3
        writeFile(path, damaged)
        let (r, got) = try frames()
        XCTAssertTrue(r.isCorruption)
        XCTAssertEqual(got.map(\.lsn), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(got[2].replay, .stop(.checksumMismatch))
        XCTAssertEqual(got[2].problem, .checksumMismatch)
        XCTAssertEqual(got[2].offset, ends[1])
        for frame in got[3...] {
            XCTAssertEqual(frame.replay, .afterStop)
            XCTAssertNil(frame.problem, "LSN \(frame.lsn) chains from the checksum stored before it")
            XCTAssertTrue(frame.chainChecked)
        }
        XCTAssertEqual(got[3...].compactMap(\.operation), txs[3...].flatMap { $0 })
    }

    func testAfterADamagedFrameHeaderTheNextFrameIsFoundBySearch() throws {
        let (bytes, ends, _) = try writeLog(path, sample())
        var damaged = bytes
        damaged[Int(ends[1]) + 9] ^= 0x01  // the LSN field of LSN 3: its header check fails, its length is not trusted
        writeFile(path, damaged)
        let (r, got) = try frames()
        XCTAssertEqual(r.stopReason, .frameHeaderChecksumMismatch)
        XCTAssertTrue(r.isCorruption)
        XCTAssertEqual(got[2].problem, .frameHeaderChecksumMismatch)
        XCTAssertEqual(got[3].offset, ends[2], "found by searching for the next frame of this generation")
        XCTAssertFalse(got[3].chainChecked)
        XCTAssertNil(got[3].problem)
        XCTAssertTrue(got[4].chainChecked)
        XCTAssertEqual(got.map(\.lsn).suffix(4), [4, 5, 6, 7])
    }

    func testPreallocatedZerosAfterTheLogAreNoFrames() throws {
        _ = try writeLog(path, sample())  // the writer leaves zeros ahead of its end
        XCTAssertGreaterThan(fileSize(path), 300)
        let (r, got) = try frames()
        XCTAssertEqual(r.stopReason, .endOfLog)
        XCTAssertEqual(got.count, 7)
    }
}

/// The read-only seam and the lock probe the operator tools rely on.
final class ReadOnlyAccessTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = makeTempDir() }
    override func tearDown() { removeDir(dir) }

    func testReadOnlyFileIORefusesEveryChange() throws {
        let path = dir + "/wal.log"
        _ = try writeLog(path, [[upsert(1)]])
        let before = readFile(path)
        let io = ReadOnlyFileIO()
        func refused(_ body: () throws -> Void) {
            assertStorageError(body) { if case .io(let f) = $0 { return f.errno == EROFS } else { return false } }
        }
        refused { _ = try io.open(path, mode: .readWrite) }
        refused { _ = try io.open(dir + "/new", mode: .createOrOpen) }
        refused { try io.unlink(path) }
        refused { try io.rename(path, to: path + ".x") }
        refused { try io.createDirectory(dir + "/sub") }
        refused { try io.writeFileAtomically(dir + "/MANIFEST", [1, 2, 3]) }
        refused { _ = try WALWriter(creating: dir + "/other.log", io: io) }
        let file = try io.open(path, mode: .readOnly)
        refused { try io.ftruncate(file, to: 0) }
        refused { try io.fdatasync(file) }
        try io.close(file)
        XCTAssertEqual(readFile(path), before)
        XCTAssertEqual(try io.listDirectory(dir).sorted(), ["wal.log"])
    }

    func testLockProbeSeesAHolderAndNeverCreatesTheFile() throws {
        XCTAssertNil(DirectoryLock.holder(dir: dir))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/LOCK"), "the probe must not create LOCK")
        let lock = try DirectoryLock.acquire(dir: dir)
        XCTAssertEqual(DirectoryLock.holder(dir: dir), getpid())
        XCTAssertEqual(DirectoryLock.holder(dir: dir), getpid(), "probing leaves the holder's lock in place")
        lock.release()
        XCTAssertNil(DirectoryLock.holder(dir: dir))
        let again = try DirectoryLock.acquire(dir: dir)  // the probe left nothing behind that blocks an owner
        again.release()
    }
}

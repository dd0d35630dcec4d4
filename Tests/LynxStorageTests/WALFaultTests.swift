import Foundation
import LynxStorage
import XCTest

final class WALFaultTests: XCTestCase {
    var dir = ""
    var path = ""
    override func setUp() { dir = makeTempDir(); path = dir + "/wal.log" }
    override func tearDown() { removeDir(dir) }

    func isNoSpace(_ e: StorageError) -> Bool { if case .noSpace(let f) = e { return f.errno == ENOSPC } else { return false } }

    func testENOSPCOnAppendCountsNothing() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        try w.append([upsert(1)])
        let end = w.endOffset
        io.failWrites(errno: ENOSPC)
        assertStorageError({ try w.append([upsert(2), upsert(3)]) }, isNoSpace)
        XCTAssertEqual(w.endOffset, end)
        XCTAssertEqual(w.lastLSN, 1)
        XCTAssertEqual(try w.append([upsert(4)]), 2)
        try w.sync()
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.ops), [[upsert(1)], [upsert(4)]])
        XCTAssertEqual(r.stopReason, .endOfLog)
    }

    func testEDQUOTIsNoSpaceAndEIOIsIO() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        io.failWrites(errno: EDQUOT)
        assertStorageError({ try w.append([upsert(1)]) }) { if case .noSpace(let f) = $0 { return f.errno == EDQUOT } else { return false } }
        io.failWrites(errno: EIO)
        assertStorageError({ try w.append([upsert(1)]) }) {
            if case .io(let f) = $0 { return f.errno == EIO && f.syscall == "pwrite" && f.path == self.path && !f.message.isEmpty }
            return false
        }
        XCTAssertEqual(try w.append([upsert(1)]), 1)
    }

    /// The disk fills up mid-write: part of the transaction reaches the file, then ENOSPC.
    func testShortWriteCountsNothingAndLeavesNoTrace() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        try w.append([upsert(1)])
        let end = w.endOffset
        for keep in [1, 31, 32, 40, 83, 100, 160] {
            io.shortWrite(keep: keep)
            assertStorageError({ try w.append([upsert(2, dim: 8), upsert(3, dim: 8)]) }, isNoSpace)
            XCTAssertEqual(w.endOffset, end)
            XCTAssertEqual(w.lastLSN, 1)
            // Even without another append, recovery sees only the committed prefix.
            let (r, got) = try recoverAll(path)
            XCTAssertEqual(got.map(\.ops), [[upsert(1)]])
            XCTAssertFalse(r.isCorruption)
        }
        XCTAssertEqual(try w.append([upsert(5)]), 2)
        try w.sync()
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.ops), [[upsert(1)], [upsert(5)]])
        XCTAssertEqual(r.stopReason, .endOfLog)
    }

    func testShortWriteThenCrashRecoversPrefix() throws {
        // A growing file (no preallocation): the partial transaction is where the file ends.
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, preallocationBytes: 0, io: io)
        try w.append([upsert(1)])
        io.fail(.ftruncate, errno: EIO) // the best-effort cleanup fails too: the partial bytes stay
        io.shortWrite(keep: 120)
        assertStorageError({ try w.append([upsert(2, dim: 8), upsert(3, dim: 8)]) }, isNoSpace)
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64, w.endOffset)
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.ops), [[upsert(1)]])
        XCTAssertTrue(r.stopReason.isTorn, "\(r.stopReason)")
        XCTAssertEqual(r.droppedUncommittedFrames, 1)
    }

    func testShortWriteInsidePreallocatedSpaceThenCrashRecoversPrefix() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        try w.append([upsert(1)])
        io.fail(.ftruncate, errno: EIO)
        io.shortWrite(keep: 120)
        assertStorageError({ try w.append([upsert(2, dim: 8), upsert(3, dim: 8)]) }, isNoSpace)
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.ops), [[upsert(1)]])
        XCTAssertFalse(r.isCorruption, "\(r.stopReason)")
    }

    func testFdatasyncFailurePoisonsWriter() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        try w.append([upsert(1)])
        XCTAssertEqual(try w.sync(), 1)
        try w.append([upsert(2)])
        io.fail(.fdatasync, errno: EIO)
        func isPoison(_ e: StorageError) -> Bool {
            if case .syncFailed(let f) = e { return f.errno == EIO && f.syscall == "fdatasync" } else { return false }
        }
        assertStorageError({ try w.sync() }, isPoison)
        XCTAssertEqual(w.durableLSN, 1)
        XCTAssertNotNil(w.poisonedBy)
        let syncsBefore = io.calls(.fdatasync)
        assertStorageError({ try w.append([upsert(3)]) }, isPoison)
        assertStorageError({ try w.sync() }, isPoison)
        assertStorageError({ try w.reset(checkpointSeq: 1) }, isPoison)
        XCTAssertEqual(io.calls(.fdatasync), syncsBefore, "a failed fsync is never retried")
        XCTAssertEqual(w.lastLSN, 2)
    }

    func testSyncSkipsWhenNothingNew() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        try w.append([upsert(1)])
        try w.sync()
        try w.sync()
        XCTAssertEqual(io.calls(.fdatasync), 1)
    }

    func testResetFailurePoisons() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, io: io)
        try w.append([upsert(1)])
        io.fail(.fsync, errno: EIO)
        assertStorageError({ try w.reset(checkpointSeq: 1) }) { if case .syncFailed = $0 { return true } else { return false } }
        assertStorageError({ try w.append([upsert(2)]) }) { if case .syncFailed = $0 { return true } else { return false } }
    }

    /// A real full disk: an 8 MiB tmpfs. Needs root (mount); skipped otherwise.
    func testRealDiskFullOnTmpfs() throws {
        guard getuid() == 0 else { throw XCTSkip("not root: cannot mount a tmpfs to fill up") }
        let mnt = makeTempDir("lynx-tmpfs")
        defer { removeDir(mnt) }
        let rc = runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt])
        guard rc == 0 else { throw XCTSkip("mount -t tmpfs failed (exit \(rc)); no privilege to mount in this environment") }
        defer { _ = runCommand("/bin/umount", [mnt]) }
        let p = mnt + "/wal.log"
        let w = try WALWriter(creating: p)
        var acked: [[WALOperation]] = []
        var failure: StorageError?
        var i: UInt64 = 0
        while failure == nil {
            // mixed sizes so the last write is usually a short one
            let tx = (0..<Int(i % 3 + 1)).map { k in upsert(i * 10 + UInt64(k), dim: 384, meta: Int(i % 50)) }
            do {
                try w.append(tx)
                acked.append(tx)
            } catch let e as StorageError {
                failure = e
            }
            i += 1
            XCTAssertLessThan(i, 100_000)
        }
        guard case .noSpace(let f)? = failure else { return XCTFail("expected .noSpace, got \(String(describing: failure))") }
        XCTAssertEqual(f.errno, ENOSPC)
        XCTAssertEqual(f.path, p)
        XCTAssertGreaterThan(acked.count, 1000)
        // Other, smaller appends may still fit; every one that is acknowledged must be recovered.
        for j in 0..<50 {
            if (try? w.append([.delete(id: UInt64(j))])) != nil { acked.append([.delete(id: UInt64(j))]) }
        }
        try w.sync()
        try w.close()
        let (r, got) = try recoverAll(p)
        XCTAssertEqual(got.count, acked.count)
        XCTAssertTrue(got.map(\.ops) == acked, "recovered transactions differ from acknowledged ones")
        XCTAssertFalse(r.isCorruption)
        print("tmpfs disk-full: \(acked.count) transactions acknowledged, failure: \(f)")
    }
}

func runCommand(_ exe: String, _ args: [String]) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    p.standardError = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

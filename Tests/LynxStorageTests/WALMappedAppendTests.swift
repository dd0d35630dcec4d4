import Foundation
import LynxStorage
import XCTest

/// Appends through a shared mapping of the log (`mapAppends`, docs/STORAGE_FORMATS.md "Mapped appends"): the same log as
/// pwrite appends, no system call per append, and every failure still where the zeros are written ahead.
final class WALMappedAppendTests: XCTestCase {
    var dir = ""
    var path = ""
    override func setUp() { dir = makeTempDir(); path = dir + "/wal.log" }
    override func tearDown() { removeDir(dir) }

    func isNoSpace(_ e: StorageError) -> Bool { if case .noSpace(let f) = e { return f.errno == ENOSPC } else { return false } }

    /// The same transactions through the mapping and through pwrite: the same ends, LSNs and recovered log.
    func testMappedLogRecoversLikeAPwriteLog() throws {
        let other = dir + "/pwrite.log"
        let mapped = try WALWriter(creating: path, mapAppends: true)
        let plain = try WALWriter(creating: other, mapAppends: false)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<400 as Range<UInt64> {
            let ops: [WALOperation] = i % 7 == 3
                ? [.delete(id: i - 1)]
                : (0..<Int.random(in: 1...3, using: &rng)).map { upsert(i * 10 + UInt64($0), dim: Int.random(in: 1...300, using: &rng)) }
            XCTAssertEqual(try mapped.append(ops), try plain.append(ops))
            XCTAssertEqual(mapped.endOffset, plain.endOffset)
        }
        try mapped.sync()
        try plain.sync()
        let (rm, gotMapped) = try recoverAll(path)
        let (rp, gotPlain) = try recoverAll(other)
        XCTAssertEqual(gotMapped.map(\.lsn), gotPlain.map(\.lsn))
        XCTAssertEqual(gotMapped.map(\.ops), gotPlain.map(\.ops))
        XCTAssertEqual(rm.validEndOffset, rp.validEndOffset)
        XCTAssertEqual(rm.stopReason, .endOfLog)
    }

    /// Below the zeros written ahead an append makes no pwrite; a full disk fails the append that needs more
    /// zeros, counts nothing of it, and the log takes appends again once space returns.
    func testNoSpaceForZerosAheadFailsOnlyThatAppend() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, preallocationBytes: 256 << 10, mapAppends: true, io: io)
        try w.append([upsert(1)])
        let pwrites = io.calls(.pwrite)
        var lsn: UInt64 = 1
        var expected: [[WALOperation]] = [[upsert(1)]]
        while w.endOffset + 8_000 < 256 << 10 {
            let ops = [upsert(lsn + 1, dim: 1_000)]
            lsn = try w.append(ops)
            expected.append(ops)
        }
        XCTAssertEqual(io.calls(.pwrite), pwrites, "appends below the zeros ahead must not pwrite")
        // The next appends need more zeros: the third 64 KiB piece of them finds the disk full.
        let end = w.endOffset
        io.failWrites(errno: ENOSPC, after: 2)
        var failed = false
        for _ in 0..<3 where !failed {
            do { let ops = [upsert(lsn + 1, dim: 1_000)]; lsn = try w.append(ops); expected.append(ops) } catch let e as StorageError {
                XCTAssertTrue(isNoSpace(e), "\(e)")
                failed = true
            }
        }
        XCTAssertTrue(failed, "an append past the zeros ahead must write more zeros, and fail with them")
        XCTAssertEqual(w.lastLSN, lsn)
        XCTAssertGreaterThanOrEqual(w.endOffset, end)
        // Nothing of the failed append is in the log, even without another append.
        XCTAssertEqual(try recoverAll(path).1.map(\.ops), expected)
        io.clearFaults()
        let ops = [upsert(lsn + 1, dim: 1_000)]
        XCTAssertEqual(try w.append(ops), lsn + 1)
        expected.append(ops)
        try w.sync()
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.ops), expected)
        XCTAssertEqual(r.stopReason, .endOfLog)
    }

    /// A log longer than the first mapping is mapped again, longer; what was stored before stays, including the
    /// pages already released from the mapping (their stores live on in the page cache).
    func testMappingGrowsWithTheLog() throws {
        let io = FaultInjectingFileIO()
        let w = try WALWriter(creating: path, preallocationBytes: 64 << 10, mapAppends: true, firstMappingBytes: 128 << 10, io: io)
        var expected: [[WALOperation]] = []
        for i in 0..<300 as Range<UInt64> {  // ~1.2 MB: the mapping is remade several times
            let ops = [upsert(i, dim: 1_000)]
            try w.append(ops)
            expected.append(ops)
        }
        try w.sync()
        XCTAssertGreaterThan(w.endOffset, 1 << 20)
        XCTAssertGreaterThan(io.calls(.mapShared), 2, "the mapping must have been remade")
        XCTAssertGreaterThan(io.calls(.releaseMapped), 10, "written pages must have been released")
        XCTAssertEqual(try recoverAll(path).1.map(\.ops), expected)
    }

    /// Where the system refuses the mapping, appends are pwrites and the log is the same.
    func testRefusedMappingFallsBackToPwrite() throws {
        let io = FaultInjectingFileIO()
        io.fail(.mapShared, errno: ENODEV)
        let w = try WALWriter(creating: path, mapAppends: true, io: io)
        var expected: [[WALOperation]] = []
        for i in 0..<20 as Range<UInt64> {
            let before = io.calls(.pwrite)
            let ops = [upsert(i)]
            try w.append(ops)
            expected.append(ops)
            XCTAssertGreaterThan(io.calls(.pwrite), before, "append \(i) must pwrite")
        }
        XCTAssertEqual(io.calls(.mapShared), 1, "a refused mapping is not asked for again")
        XCTAssertEqual(try recoverAll(path).1.map(\.ops), expected)
    }

    /// A reset (with the file truncated) and a reuse of an old file: the new generation's mapped appends are
    /// the only frames recovered, and nothing is ever stored past the end of the file (that would be SIGBUS).
    func testMappedAppendsAcrossResetAndReuse() throws {
        let w = try WALWriter(creating: path, mapAppends: true)
        for i in 0..<200 as Range<UInt64> { try w.append([upsert(i, dim: 200)]) }
        try w.reset(checkpointSeq: 1, truncateAbove: 4096)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64, UInt64(WALFormat.headerSize))
        var expected: [[WALOperation]] = []
        for i in 200..<260 as Range<UInt64> {
            let ops = [upsert(i, dim: 200)]
            try w.append(ops)
            expected.append(ops)
        }
        try w.sync()
        XCTAssertEqual(try recoverAll(path).1.map(\.ops), expected)
        try w.close()

        let reused = try WALWriter(reusing: path, checkpointSeq: 2, firstLSN: 1_000, truncateAbove: 1 << 30, mapAppends: true)
        let ops = [upsert(9, dim: 200)]
        XCTAssertEqual(try reused.append(ops), 1_000)
        try reused.sync()
        XCTAssertEqual(try recoverAll(path).1.map(\.ops), [ops])
    }

    /// A log resumed after recovery goes on through the mapping, from the valid end.
    func testResumedLogAppendsThroughTheMapping() throws {
        let io = FaultInjectingFileIO()
        let first = try WALWriter(creating: path, mapAppends: true)
        try first.append([upsert(1)])
        try first.append([upsert(2)])
        try first.close()
        let r = try WALReader(path: path).recover { _, _ in }
        let w = try WALWriter(resuming: r, mapAppends: true, io: io)
        let pwrites = io.calls(.pwrite)
        XCTAssertEqual(try w.append([upsert(3)]), 3)
        XCTAssertEqual(io.calls(.pwrite), pwrites, "the resumed file's zeros ahead are used through the mapping")
        XCTAssertEqual(io.calls(.mapShared), 1)
        try w.sync()
        XCTAssertEqual(try recoverAll(path).1.map(\.ops), [[upsert(1)], [upsert(2)], [upsert(3)]])
    }
}

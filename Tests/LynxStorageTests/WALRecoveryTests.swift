import Foundation
import LynxStorage
import XCTest

final class WALRecoveryTests: XCTestCase {
    var dir = ""
    var path = ""
    override func setUp() { dir = makeTempDir(); path = dir + "/wal.log" }
    override func tearDown() { removeDir(dir) }

    /// 6 single-frame transactions, then a 4-frame one, then 2 more singles.
    func sampleTransactions() -> [[WALOperation]] {
        var txs: [[WALOperation]] = (1...6).map { [upsert(UInt64($0), meta: $0 % 3)] }
        txs.append([upsert(100), .delete(id: 3), upsert(101, dim: 4, meta: 0), .delete(id: 100)])
        txs.append([.delete(id: 1)])
        txs.append([upsert(7, meta: 9)])
        return txs
    }

    func assertPrefix(_ got: [(lsn: UInt64, ops: [WALOperation])], _ txs: [[WALOperation]], _ lsns: [UInt64],
                      count: Int, _ msg: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, count, msg, file: file, line: line)
        for i in 0..<min(got.count, count) {
            XCTAssertEqual(got[i].ops, txs[i], msg, file: file, line: line)
            XCTAssertEqual(got[i].lsn, lsns[i], msg, file: file, line: line)
        }
    }

    func testCleanLogRecoversEverything() throws {
        let txs = sampleTransactions()
        let (bytes, ends, lsns) = try writeLog(path, txs)
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(r.stopReason, .endOfLog)
        XCTAssertFalse(r.isCorruption)
        XCTAssertEqual(r.validEndOffset, UInt64(bytes.count))
        XCTAssertEqual(r.validEndOffset, ends.last)
        XCTAssertEqual(r.lastLSN, lsns.last)
        XCTAssertEqual(lsns, [1, 2, 3, 4, 5, 6, 10, 11, 12])
        XCTAssertEqual(r.committedFrames, 12)
        assertPrefix(got, txs, lsns, count: txs.count, "clean")
    }

    /// Cut the log at every byte offset inside its last transactions (including the 4-frame one): exactly the
    /// transactions that end before the cut come back, and the stop is a torn tail, never "corruption".
    func testCutAtEveryOffsetRecoversCommittedPrefix() throws {
        let txs = sampleTransactions()
        let (bytes, ends, lsns) = try writeLog(path, txs)
        let from = Int(ends[4]) // from the end of tx 5 through the multi-frame tx and the rest
        for cut in from...bytes.count {
            writeFile(path, Array(bytes[0..<cut]))
            let (r, got) = try recoverAll(path)
            let expected = ends.filter { $0 <= UInt64(cut) }.count
            assertPrefix(got, txs, lsns, count: expected, "cut at \(cut)")
            XCTAssertEqual(r.validEndOffset, expected == 0 ? 40 : ends[expected - 1], "cut at \(cut)")
            XCTAssertFalse(r.isCorruption, "cut at \(cut): \(r.stopReason)")
            if ends.contains(UInt64(cut)) {
                XCTAssertEqual(r.stopReason, .endOfLog, "cut at \(cut)")
            } else {
                XCTAssertTrue(r.stopReason.isTorn, "cut at \(cut): \(r.stopReason)")
            }
        }
    }

    /// The writer preallocates zeros ahead of its appends, so a crash mid-append leaves the cut transaction
    /// followed by zeros, not by the end of the file: the same prefix comes back, never reported as corruption.
    /// The stop is a clean end where only zeros follow the last commit, a torn tail when the cut falls in a
    /// frame header, and a checksum mismatch when it falls in a payload (full length, zeros for content).
    func testCutInsidePreallocatedZerosRecoversCommittedPrefix() throws {
        let txs = sampleTransactions()
        let (bytes, ends, lsns) = try writeLog(path, txs)
        XCTAssertEqual(fileSize(path), WALWriter.defaultPreallocationBytes, "the writer preallocated")
        for cut in Int(ends[4])...bytes.count {
            writeFile(path, Array(bytes[0..<cut]) + [UInt8](repeating: 0, count: 4096))
            let (r, got) = try recoverAll(path)
            // Missing bytes that happen to be zeros read back as written: the transaction is whole and validates.
            var whole = cut
            while whole < bytes.count && bytes[whole] == 0 { whole += 1 }
            let expected = ends.filter { $0 <= UInt64(whole) }.count
            assertPrefix(got, txs, lsns, count: expected, "cut at \(cut)")
            let validEnd = Int(ends[expected - 1])
            XCTAssertEqual(r.validEndOffset, UInt64(validEnd), "cut at \(cut)")
            XCTAssertFalse(r.isCorruption, "cut at \(cut): \(r.stopReason)")
            if bytes[validEnd..<max(validEnd, cut)].allSatisfy({ $0 == 0 }) {
                XCTAssertEqual(r.stopReason, .endOfLog, "cut at \(cut)")
            } else {
                XCTAssertTrue(r.stopReason.isTorn || r.stopReason == .checksumMismatch, "cut at \(cut): \(r.stopReason)")
            }
        }
    }

    /// Appends after a restart continue inside the preallocated space; everything comes back.
    func testResumeInsidePreallocatedSpace() throws {
        let txs = sampleTransactions()
        _ = try writeLog(path, txs)
        let (w, r) = try WALWriter.open(path: path) { _, _ in }
        XCTAssertEqual(r?.stopReason, .endOfLog)
        try w.append([upsert(900)])
        try w.sync()
        try w.close()
        let (r2, got) = try recoverAll(path)
        XCTAssertEqual(r2.stopReason, .endOfLog)
        XCTAssertEqual(got.count, txs.count + 1)
        XCTAssertEqual(got.last?.ops, [upsert(900)])
    }

    func testMultiFrameTransactionIsWholeOrAbsent() throws {
        let txs: [[WALOperation]] = [[upsert(1)], (10..<15).map { upsert(UInt64($0), dim: 8) }]
        let (bytes, ends, _) = try writeLog(path, txs)
        for cut in Int(ends[0])...bytes.count {
            writeFile(path, Array(bytes[0..<cut]))
            let (r, got) = try recoverAll(path)
            if cut == bytes.count {
                XCTAssertEqual(got.map(\.ops), txs)
            } else {
                XCTAssertEqual(got.map(\.ops), [txs[0]], "cut at \(cut)")
                XCTAssertEqual(r.committedFrames, 1)
                XCTAssertTrue(cut == Int(ends[0]) ? r.stopReason == .endOfLog : r.stopReason.isTorn, "cut at \(cut)")
            }
        }
        // Cut exactly between frames 3 and 4: the frames are valid but uncommitted.
        writeFile(path, Array(bytes[0..<Int(ends[0]) + 3 * (32 + 16 + 32 + 3)]))
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(r.stopReason, .uncommittedTail)
        XCTAssertEqual(r.droppedUncommittedFrames, 3)
    }

    /// One flipped bit anywhere is never applied: the result is exactly the transactions that end before the
    /// damaged byte, and nothing from the damaged frame onwards.
    func testSingleBitFlipsAreNeverApplied() throws {
        let txs = sampleTransactions()
        let (bytes, ends, lsns) = try writeLog(path, txs)
        func check(byte: Int, bit: Int) throws {
            var d = bytes
            d[byte] ^= UInt8(1 << bit)
            writeFile(path, d)
            let (r, got) = try recoverAll(path)
            let expected = ends.filter { $0 <= UInt64(byte) }.count
            assertPrefix(got, txs, lsns, count: expected, "flip byte \(byte) bit \(bit) -> \(r.stopReason)")
            XCTAssertNotEqual(r.stopReason, .endOfLog, "flip byte \(byte) bit \(bit)")
            if byte < WALFormat.headerSize { XCTAssertEqual(r.stopReason, .badHeader) }
        }
        // every bit of the last three transactions (6 frames)
        for byte in Int(ends[5])..<bytes.count { for bit in 0..<8 { try check(byte: byte, bit: bit) } }
        // every bit of the header
        for byte in 0..<WALFormat.headerSize { for bit in 0..<8 { try check(byte: byte, bit: bit) } }
        // random bits elsewhere
        var rng = SplitMix(state: 99)
        for _ in 0..<300 {
            try check(byte: Int.random(in: 40..<Int(ends[5]), using: &rng), bit: Int.random(in: 0..<8, using: &rng))
        }
    }

    /// Damage in the middle with intact frames after it is flagged as corruption (not a torn tail).
    func testMidLogDamageIsReportedAsCorruption() throws {
        let txs = sampleTransactions()
        let (bytes, ends, _) = try writeLog(path, txs)
        var d = bytes
        d[Int(ends[1]) + 40] ^= 0x01 // payload of tx 3
        writeFile(path, d)
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(r.stopReason, .checksumMismatch)
        XCTAssertEqual(r.stopOffset, ends[1])
        XCTAssertEqual(r.laterFrameOffset, ends[2])
        XCTAssertTrue(r.isCorruption)
    }

    /// A self-consistent replacement of frame 1 (valid header check and checksum for its own bytes) still breaks
    /// every later frame, because their checksums were chained from the original frame 1.
    func testChecksumChainChangingFrameOneInvalidatesTheRest() throws {
        let txs: [[WALOperation]] = (1...5).map { [upsert(UInt64($0))] }
        let (bytes, ends, _) = try writeLog(path, txs)
        let h = try WALHeader.decode(Array(bytes[0..<40])).get()
        let forged = try WALCodec.encodeTransaction([upsert(1, meta: 3).withID(77)], firstLSN: 1, salt1: h.salt1,
                                                    salt2: h.salt2, seed: h.checksum)
        XCTAssertEqual(forged.bytes.count, Int(ends[0]) - 40)
        var d = bytes
        d.replaceSubrange(40..<Int(ends[0]), with: forged.bytes)
        writeFile(path, d)
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.ops), [[upsert(1).withID(77)]])
        XCTAssertEqual(r.stopReason, .checksumMismatch)
        XCTAssertEqual(r.stopOffset, ends[0])
        // frame 2 checked on its own: valid with the original frame 1's checksum, invalid with the forged one
        let original = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 40 + 28, as: UInt32.self)) }
        XCTAssertNotEqual(original, forged.checksum)
        XCTAssertEqual(try WALCodec.decodeFrame(d, at: Int(ends[0]), salt1: h.salt1, salt2: h.salt2, seed: original, expectedLSN: 2).get().lsn, 2)
        XCTAssertEqual(WALCodec.decodeFrame(d, at: Int(ends[0]), salt1: h.salt1, salt2: h.salt2, seed: forged.checksum, expectedLSN: 2),
                       .failure(.checksumMismatch))
    }

    func testResetChangesSaltsAndOldFramesNeverReturn() throws {
        // A growing file (no preallocation), so that the old generation ends exactly where its last frame does.
        let w = try WALWriter(creating: path, preallocationBytes: 0)
        for i in 1...20 { try w.append([upsert(UInt64(i), dim: 16)]) }
        let old = w.currentHeader
        let oldSize = w.endOffset
        try w.reset(checkpointSeq: 5, truncateAbove: 1 << 30)
        let new = w.currentHeader
        XCTAssertNotEqual(old.salt1, new.salt1)
        XCTAssertEqual(new.salt1, old.salt1 &+ 1)
        XCTAssertNotEqual(old.salt2, new.salt2)
        XCTAssertEqual(new.firstLSN, 21)
        XCTAssertEqual(new.checkpointSeq, 5)
        XCTAssertEqual(w.endOffset, 40)
        XCTAssertEqual(w.frameCount, 0)
        XCTAssertEqual(w.durableLSN, 20)
        // shorter new generation, different frame sizes so boundaries do not line up
        XCTAssertEqual(try w.append([upsert(500, dim: 3, meta: 1)]), 21)
        XCTAssertEqual(try w.append([.delete(id: 2), .delete(id: 3)]), 23)
        try w.sync()
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64, oldSize, "no truncation")
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.map(\.lsn), [21, 23])
        XCTAssertEqual(got.map(\.ops), [[upsert(500, dim: 3, meta: 1)], [.delete(id: 2), .delete(id: 3)]])
        XCTAssertEqual(r.header?.checkpointSeq, 5)
        XCTAssertFalse(r.isCorruption, "stale frames of the old generation are not corruption (\(r.stopReason))")
        XCTAssertNil(r.laterFrameOffset)
        // An empty new generation returns nothing at all, even though the old frames are still in the file.
        try w.reset(checkpointSeq: 6, truncateAbove: 1 << 30)
        let (r2, got2) = try recoverAll(path)
        XCTAssertTrue(got2.isEmpty)
        XCTAssertEqual(r2.lastLSN, 23)
        // Resets keep working, and a size above the limit truncates to the header.
        try w.append([upsert(1)])
        try w.reset(checkpointSeq: 7, truncateAbove: 100)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64, 40)
        XCTAssertEqual(try w.append([upsert(9)]), 25)
        let (_, got3) = try recoverAll(path)
        XCTAssertEqual(got3.map(\.lsn), [25])
    }

    func testResumeOverwritesTornTail() throws {
        // A growing file (no preallocation): the crash leaves the file ending inside the last transaction.
        do {
            let w = try WALWriter(creating: path, preallocationBytes: 0)
            for i in 1...5 { try w.append([upsert(UInt64(i), dim: 32)]) }
            try w.append([upsert(6), upsert(7), upsert(8)])
            // "crash": the writer is dropped without close or sync
        }
        let bytes = readFile(path)
        let cut = bytes.count - 50
        writeFile(path, Array(bytes[0..<cut]))
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.count, 5)
        XCTAssertEqual(r.stopReason, .tornFrame)
        let w = try WALWriter(resuming: r, preallocationBytes: 0)
        XCTAssertEqual(w.endOffset, r.validEndOffset)
        XCTAssertEqual(w.lastLSN, 5)
        XCTAssertEqual(try w.append([.delete(id: 1)]), 6)
        XCTAssertEqual(try w.append([upsert(9, dim: 2)]), 7)
        try w.sync()
        let (r2, got2) = try recoverAll(path)
        XCTAssertEqual(got2.map(\.lsn), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(got2[5].ops, [.delete(id: 1)])
        XCTAssertEqual(got2[6].ops, [upsert(9, dim: 2)])
        XCTAssertEqual(r2.stopReason, .endOfLog, "the torn bytes are gone")
        XCTAssertEqual(r2.fileSize, w.endOffset)
    }

    func testOpenCreatesThenResumes() throws {
        let (w1, r1) = try WALWriter.open(path: path) { _, _ in XCTFail("empty") }
        XCTAssertNil(r1)
        try w1.append([upsert(1)])
        try w1.append([upsert(2)])
        try w1.close()
        var seen: [UInt64] = []
        let (w2, r2) = try WALWriter.open(path: path) { lsn, _ in seen.append(lsn) }
        XCTAssertEqual(seen, [1, 2])
        XCTAssertEqual(r2?.stopReason, .endOfLog)
        XCTAssertEqual(try w2.append([upsert(3)]), 3)
        // A broken full-size header is not silently recreated.
        try w2.close()
        var b = readFile(path)
        b[0] = 0
        writeFile(path, b)
        assertStorageError({ _ = try WALWriter.open(path: path) { _, _ in } }) {
            if case .corrupt = $0 { return true } else { return false }
        }
    }

    func testConcurrentSyncCoversEarlierAppends() throws {
        let w = try WALWriter(creating: path)
        let done = DispatchSemaphore(value: 0)
        let stop = ManagedAtomicFlag()
        let syncErrors = ManagedAtomicFlag()
        DispatchQueue.global().async {
            while !stop.value {
                let before = w.lastLSN
                do {
                    let d = try w.sync()
                    if d < before { syncErrors.value = true }
                } catch { syncErrors.value = true }
            }
            done.signal()
        }
        for i in 0..<2000 { try w.append([upsert(UInt64(i), dim: 16)]) }
        stop.value = true
        done.wait()
        XCTAssertFalse(syncErrors.value)
        XCTAssertEqual(try w.sync(), 2000)
        XCTAssertEqual(w.durableLSN, 2000)
        let (r, got) = try recoverAll(path)
        XCTAssertEqual(got.count, 2000)
        XCTAssertEqual(r.stopReason, .endOfLog)
    }
}

final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return v }
        set { lock.lock(); v = newValue; lock.unlock() }
    }
}

extension WALOperation {
    func withID(_ id: UInt64) -> WALOperation {
        switch self {
        case .upsert(_, let v, let m): return .upsert(id: id, vector: v, metadata: m)
        case .delete: return .delete(id: id)
        case .createMetadataIndex, .dropMetadataIndex: return self
        }
    }
}

import LynxSupport
import XCTest
import LynxEngine
import LynxStorage
import LynxReplication

final class ReplicationBatchTests: XCTestCase {
    func sample() -> ReplicationBatch {
        let t1 = LoggedTransaction(firstLSN: 11, ops: [.upsert(id: 7, vector: [1, 2, 3], metadata: Array(#"{"a":1}"#.utf8))])
        let t2 = LoggedTransaction(firstLSN: 12, ops: [.delete(id: 7), .upsert(id: 8, vector: [0, 0.5, -1], metadata: [])])
        return ReplicationBatch(leaderTerm: 9, leaderLastLSN: 20,
                                history: TermHistory(storeID: StoreID(rawValue: 77)!, entries: [TermStart(term: 9, startLSN: 1)]), transactions: [t1, t2])
    }

    func testRoundTrip() throws {
        let bytes = try sample().encoded()
        XCTAssertEqual(Array(bytes[0..<4]), Array("LYRB".utf8))
        let back = try ReplicationBatch.decode(bytes)
        XCTAssertEqual(back.leaderTerm, 9)
        XCTAssertEqual(back.leaderLastLSN, 20)
        XCTAssertEqual(back.history, sample().history)
        XCTAssertEqual(back.transactions.map(\.firstLSN), [11, 12])
        XCTAssertEqual(back.transactions.map(\.ops), sample().transactions.map(\.ops))
    }

    /// The frames after the header and history are exactly the WAL codec's own encoding of each transaction
    /// (salts 0), each chained from the previous one's checksum and the first from the header's and history's
    /// (docs/REPLICATION.md): the in-place layout of `encoded()` matches the codec byte for byte.
    func testFramesAreTheWALCodecsChainedFromTheHeader() throws {
        let batch = sample()
        let bytes = try batch.encoded()
        let head = ReplicationBatch.headerSize + ReplicationBatch.historyEntrySize * batch.history.entries.count
        var expected = Array(bytes[0..<head])
        var seed = CRC32C.extend(0, expected)
        for t in batch.transactions {
            let (frames, crc) = try WALCodec.encodeTransaction(t.ops, firstLSN: t.firstLSN, salt1: 0, salt2: 0, seed: seed)
            expected += frames
            seed = crc
        }
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(Int(bytes.le32(at: 40)), bytes.count - head, "the header's frame byte count")
    }

    func testAnEmptyBatchRoundTrips() throws {
        let empty = ReplicationBatch(leaderTerm: 3, leaderLastLSN: 5, history: TermHistory(storeID: StoreID(rawValue: 1)!), transactions: [])
        let back = try ReplicationBatch.decode(try empty.encoded())
        XCTAssertTrue(back.transactions.isEmpty)
        XCTAssertEqual(back.leaderTerm, 3)
    }

    /// Every single bit flipped anywhere in the batch is caught (header, history or frames), never applied.
    func testEveryBitFlipIsRefused() throws {
        let bytes = try sample().encoded()
        for i in 0..<bytes.count {
            for bit in 0..<8 {
                var bad = bytes
                bad[i] ^= UInt8(1 << bit)
                XCTAssertThrowsError(try ReplicationBatch.decode(bad), "byte \(i) bit \(bit)")
            }
        }
    }

    func testATruncatedBatchOrOneWithoutItsCommitFrameIsRefused() throws {
        let bytes = try sample().encoded()
        for cut in [0, 10, 47, 48, bytes.count - 1] {
            XCTAssertThrowsError(try ReplicationBatch.decode(Array(bytes[0..<cut])), "cut at \(cut)")
        }
    }
}

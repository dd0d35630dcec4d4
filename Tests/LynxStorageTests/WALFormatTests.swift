import Foundation
import LynxStorage
import XCTest

final class WALFormatTests: XCTestCase {
    func testCRC32CKnownVectorAndPaths() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([]), 0)
        var rng = SplitMix(state: 1)
        for n in [1, 7, 8, 9, 63, 64, 1000, 4099] {
            let b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertEqual(CRC32C.extend(0, b), CRC32C.extendSoftware(0, b))
            // extend is associative over concatenation
            let k = n / 3
            XCTAssertEqual(CRC32C.extend(CRC32C.extend(0, Array(b[..<k])), Array(b[k...])), CRC32C.checksum(b))
            XCTAssertEqual(CRC32C.combine(CRC32C.checksum(Array(b[..<k])), CRC32C.checksum(Array(b[k...])),
                                          lengthB: UInt64(n - k)), CRC32C.checksum(b))
        }
    }

    /// The hardware path checksums long inputs as three interleaved streams joined by shift tables: every length
    /// around the block boundaries (3 x 256 and 3 x 8192 bytes) and every start alignment must agree with the
    /// byte-at-a-time software path.
    func testCRC32CInterleavedBlocksMatchSoftware() {
        var rng = SplitMix(state: 7)
        let b = (0..<(3 * 8192 * 2 + 64)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let lengths = [767, 768, 769, 775, 776, 1584, 1536, 2304, 24575, 24576, 24577, 24576 + 768, 49152, 49159]
        for n in lengths {
            for start in 0..<9 {
                let slice = Array(b[start..<(start + n)])
                XCTAssertEqual(CRC32C.extend(0x1234_5678, slice), CRC32C.extendSoftware(0x1234_5678, slice),
                               "length \(n) at offset \(start)")
            }
        }
        XCTAssertEqual(CRC32C.combine(0xDEAD_BEEF, 0, lengthB: 0), 0xDEAD_BEEF)
    }

    func testHeaderRoundTripAndDamage() {
        let h = WALHeader(checkpointSeq: 7, salt1: 0xDEAD_BEEF, salt2: 42, firstLSN: 1000)
        let b = h.encoded()
        XCTAssertEqual(b.count, WALFormat.headerSize)
        XCTAssertEqual(try WALHeader.decode(b).get(), h)
        for i in 0..<b.count {
            var d = b
            d[i] ^= 0x10
            if case .success = WALHeader.decode(d) { XCTFail("flipped header byte \(i) accepted") }
        }
    }

    func testFrameEncodeDecodeRoundTrip() throws {
        let ops: [WALOperation] = [
            .upsert(id: 1, vector: [1.5, -2.25, .greatestFiniteMagnitude, -0.0, .leastNonzeroMagnitude], metadata: Array("{\"a\":1}".utf8)),
            .delete(id: UInt64.max),
            .upsert(id: 0, vector: [], metadata: []),
            .upsert(id: 99, vector: (0..<384).map { Float($0) / 7 }, metadata: []),
            .createMetadataIndex(path: ["meta", "année"], type: 2),
            .dropMetadataIndex(path: ["genre"]),
        ]
        let seed: UInt32 = 0x1234_5678
        let (bytes, last) = try WALCodec.encodeTransaction(ops, firstLSN: 50, salt1: 3, salt2: 4, seed: seed)
        XCTAssertEqual(bytes.count, try WALCodec.encodedSize(ops))
        var off = 0
        var crc = seed
        for (i, op) in ops.enumerated() {
            let f = try WALCodec.decodeFrame(bytes, at: off, salt1: 3, salt2: 4, seed: crc, expectedLSN: 50 + UInt64(i)).get()
            XCTAssertEqual(f.operation, op)
            XCTAssertEqual(f.lsn, 50 + UInt64(i))
            XCTAssertEqual(f.isCommit, i == ops.count - 1)
            // bit-exact floats, including -0.0
            if case .upsert(_, let v1, _) = f.operation, case .upsert(_, let v2, _) = op {
                XCTAssertEqual(v1.map(\.bitPattern), v2.map(\.bitPattern))
            }
            crc = f.checksum
            off += f.size
        }
        XCTAssertEqual(off, bytes.count)
        XCTAssertEqual(crc, last)
        // wrong seed, salts or LSN are rejected
        XCTAssertEqual(WALCodec.decodeFrame(bytes, at: 0, salt1: 3, salt2: 4, seed: seed ^ 1, expectedLSN: 50), .failure(.checksumMismatch))
        XCTAssertEqual(WALCodec.decodeFrame(bytes, at: 0, salt1: 3, salt2: 5, seed: seed, expectedLSN: 50), .failure(.saltMismatch))
        XCTAssertEqual(WALCodec.decodeFrame(bytes, at: 0, salt1: 3, salt2: 4, seed: seed, expectedLSN: 51), .failure(.lsnMismatch))
        XCTAssertEqual(WALCodec.decodeFrame(Array(bytes[0..<40]), at: 0, salt1: 3, salt2: 4, seed: seed, expectedLSN: 50), .failure(.tornFrame))
    }

    func testEmptyTransactionRejected() {
        XCTAssertThrowsError(try WALCodec.encodedSize([]))
    }

    /// Operations 3 and 4 carry a field path that must fill the payload exactly: a component count of 0, a length
    /// past the payload or bytes after the path make the frame `.badOperation` (its checksums being valid).
    func testMetadataIndexFramesWithAMalformedPathAreBadOperations() throws {
        let seed: UInt32 = 9
        let (good, _) = try WALCodec.encodeTransaction([.dropMetadataIndex(path: ["ab"])], firstLSN: 1, salt1: 3, salt2: 4, seed: seed)
        XCTAssertEqual(good.count, 32 + 6)
        // No component; a component longer than the payload; a shorter one, leaving a byte after the path.
        for (offset, byte) in [(32, UInt8(0)), (34, UInt8(3)), (34, UInt8(1))] {
            var bad = good
            bad[offset] = byte
            // Re-seal the checksums so only the payload's shape is wrong.
            let header = CRC32C.extend(0, Array(bad[0..<24]))
            withUnsafeBytes(of: header.littleEndian) { for i in 0..<4 { bad[24 + i] = $0[i] } }
            let crc = CRC32C.extend(seed, Array(bad[0..<28]) + Array(bad[32...]))
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bad[28 + i] = $0[i] } }
            XCTAssertEqual(WALCodec.decodeFrame(bad, at: 0, salt1: 3, salt2: 4, seed: seed, expectedLSN: 1), .failure(.badOperation),
                           "byte \(offset) = \(byte)")
        }
    }
}

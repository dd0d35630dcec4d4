import Foundation
import LynxStorage
import XCTest

/// Row chunk files (docs/STORAGE_FORMATS.md): written from 4096-aligned memory, read back only when size, header and the
/// snapshot's CRC-32C all agree.
final class RowChunkFileTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = makeTempDir("lynx-rows") }
    override func tearDown() { removeDir(dir) }

    /// `rows × width` floats in 4096-aligned memory, readable up to the next 4096 bytes (as a RowChunk is).
    func withChunk<R>(rows: Int, width: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let bytes = max(4096, (rows * width * 4 + 4095) / 4096 * 4096)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xEE, count: bytes)  // padding that is not zero
        let floats = raw.bindMemory(to: Float.self, capacity: bytes / 4)
        for i in 0..<(rows * width) { floats[i] = Float(i) * 0.5 - 3 }
        return try body(floats)
    }

    func testRoundTripOfFullAndPartialChunks() throws {
        for (rows, width) in [(1024, 4), (7, 3), (1, 1), (1000, 384)] {
            let path = dir + "/" + RowChunkFile.fileName(token: 0xABC)
            let (crc, original) = try withChunk(rows: rows, width: width) { p in
                (try RowChunkFile.write(path: path, token: 0xABC, width: width, rows: rows, payload: UnsafeRawPointer(p), io: SystemFileIO()),
                 Array(UnsafeBufferPointer(start: p, count: rows * width)))
            }
            XCTAssertEqual(fileSize(path), UInt64(RowChunkFile.fileSize(rows: rows, width: width)))
            XCTAssertEqual(crc, CRC32C.checksum(readFile(path)), "the CRC covers the whole file")
            var back = [Float](repeating: 0, count: rows * width)
            try back.withUnsafeMutableBytes {
                try RowChunkFile.read(path: path, token: 0xABC, width: width, rows: rows, checksum: crc, into: $0, io: SystemFileIO())
            }
            XCTAssertEqual(back, original, "\(rows)×\(width)")
        }
    }

    func testAnyDamageOrMismatchIsRefused() throws {
        let rows = 5, width = 3
        let path = dir + "/" + RowChunkFile.fileName(token: 42)
        let crc = try withChunk(rows: rows, width: width) { p in
            try RowChunkFile.write(path: path, token: 42, width: width, rows: rows, payload: UnsafeRawPointer(p), io: SystemFileIO())
        }
        let good = readFile(path)
        func read(token: UInt64 = 42, rows: Int = 5, width: Int = 3, checksum: UInt32? = nil) throws {
            var back = [Float](repeating: 0, count: 1024 * 3)
            try back.withUnsafeMutableBytes {
                try RowChunkFile.read(path: path, token: token, width: width, rows: rows, checksum: checksum ?? crc, into: $0, io: SystemFileIO())
            }
        }
        try read()
        for offset in [0, 9, 16, 24, 100, 4096, 4096 + 59, good.count - 1] {  // header, zeros, payload, padding
            var bad = good
            bad[offset] ^= 0x10
            writeFile(path, bad)
            XCTAssertThrowsError(try read(), "flipped byte \(offset)") { error in
                guard case StorageError.corrupt(let why) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(why.contains(path), why)
            }
        }
        writeFile(path, good)
        XCTAssertThrowsError(try read(token: 43), "another token's file")
        XCTAssertThrowsError(try read(rows: 4), "another row count")
        XCTAssertThrowsError(try read(checksum: crc ^ 1), "another checksum")
        writeFile(path, Array(good.dropLast(4096)))
        XCTAssertThrowsError(try read(), "truncated")
        try FileManager.default.removeItem(atPath: path)
        XCTAssertThrowsError(try read(), "missing") { error in
            guard case StorageError.notFound = error else { return XCTFail("\(error)") }
        }
    }

    func testDirectIORefusedFallsBackToThePageCache() throws {
        let io = FaultInjectingFileIO()
        io.fail(.open, errno: EINVAL)  // as tmpfs answers O_DIRECT
        let path = dir + "/" + RowChunkFile.fileName(token: 9)
        let crc = try withChunk(rows: 3, width: 4) { p in
            try RowChunkFile.write(path: path, token: 9, width: 4, rows: 3, payload: UnsafeRawPointer(p), io: io)
        }
        XCTAssertEqual(io.calls(.open), 2)
        XCTAssertEqual(crc, CRC32C.checksum(readFile(path)))
    }

    func testFileNamesCarryTheToken() {
        XCTAssertEqual(RowChunkFile.fileName(token: 0x1F), "000000000000001f.lrows")
        XCTAssertEqual(RowChunkFile.token(fromFileName: "000000000000001f.lrows"), 0x1F)
        XCTAssertEqual(RowChunkFile.token(fromFileName: RowChunkFile.fileName(token: .max)), .max)
        XCTAssertNil(RowChunkFile.token(fromFileName: "000000000000001f.lrows.tmp"))
        XCTAssertNil(RowChunkFile.token(fromFileName: "1f.lrows"))
        XCTAssertNil(RowChunkFile.token(fromFileName: "snapshot-00000000000000000001.lsnap"))
    }
}

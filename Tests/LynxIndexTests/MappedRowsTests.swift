import LynxIndex
import LynxSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Stored chunks handed out in place (`RowChunkMapper`), as on_disk stores read their files: each "mapping" here is
/// a copy of the stored rows in read-only pages, so a write into one would crash the test.
final class ReadOnlyRowChunks: RowChunkMapper, @unchecked Sendable {
    let stored: MemoryRowChunks
    let mapsVectors: Bool
    var live = 0
    var mapped = 0

    init(_ stored: MemoryRowChunks, mapsVectors: Bool = true) {
        self.stored = stored
        self.mapsVectors = mapsVectors
    }

    func load(_ reference: RowChunkReference, width: Int, into: UnsafeMutableBufferPointer<Float>) throws {
        try stored.load(reference, width: width, into: into)
    }

    func map(_ reference: RowChunkReference, width: Int, verify: Bool) throws -> MappedRows {
        let bytes = max(1, reference.rows * width * 4)
        let memory = PageMemory.allocate(byteCount: bytes)
        try load(reference, width: width, into: UnsafeMutableBufferPointer(
            start: memory.base.bindMemory(to: Float.self, capacity: reference.rows * width), count: reference.rows * width))
        XCTAssertEqual(mprotect(memory.base, bytes, PROT_READ), 0)
        live += 1
        mapped += 1
        return MappedRows(base: UnsafeRawPointer(memory.base), rows: reference.rows) { [self] in
            mprotect(memory.base, bytes, PROT_READ | PROT_WRITE)
            memory.deallocate()
            live -= 1
        }
    }
}

final class MappedRowsTests: XCTestCase {
    private func rows(_ n: Int, width: Int, seed: Float = 0) -> ChunkedRows {
        var r = ChunkedRows(width: width)
        for i in 0..<n {
            let v = (0..<width).map { Float(i * width + $0) + seed }
            v.withUnsafeBufferPointer { r.append($0.baseAddress!) }
        }
        return r
    }

    private func contents(_ r: ChunkedRows) -> [Float] { r.contiguous() }

    /// Chunks stored by a snapshot are mapped in place; writes copy their chunk back into memory and leave the
    /// mapping untouched; the mapping goes when no value holds it.
    func testStoredChunksAreReadInPlaceAndCopiedOnWrite() throws {
        let width = 5, n = 2 * ChunkedRows.rowsPerChunk + 300
        let files = MemoryRowChunks()
        let mapper = ReadOnlyRowChunks(files)
        var live = rows(n, width: width)
        var w = BinaryWriter()
        w.rowSink = files
        w.write(rows: live)  // a snapshot: every chunk now has a stored reference
        let before = contents(live)

        XCTAssertEqual(try live.mapStoredChunks(using: mapper), 3)
        XCTAssertEqual(live.allocatedBytes, 0)
        XCTAssertEqual(live.mappedBytes, n * width * 4)
        XCTAssertEqual(contents(live), before)
        XCTAssertEqual(try live.mapStoredChunks(using: mapper), 0, "mapped chunks are not mapped again")

        // Writes into a mapped chunk, and an append into the mapped last one, copy the chunk into memory.
        let row = [Float](repeating: -1, count: width)
        row.withUnsafeBufferPointer { live.setRow(10, from: $0.baseAddress!) }
        row.withUnsafeBufferPointer { live.append($0.baseAddress!) }
        XCTAssertEqual(live.mappedBytes, ChunkedRows.rowsPerChunk * width * 4, "one chunk still mapped")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: live.row(10), count: width)), row)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: live.row(n), count: width)), row)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: live.row(11), count: width)), Array(before[(11 * width)..<(12 * width)]))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: live.row(ChunkedRows.rowsPerChunk + 7), count: width)),
                       Array(before[((ChunkedRows.rowsPerChunk + 7) * width)..<((ChunkedRows.rowsPerChunk + 8) * width)]))
        XCTAssertEqual(mapper.live, 1, "the two chunks written to gave their mappings back")

        // A chunk written since the snapshot has no stored reference: it stays in memory until stored again.
        XCTAssertEqual(try live.mapStoredChunks(using: mapper), 0)
        var again = BinaryWriter()
        again.rowSink = files
        again.write(rows: live)
        XCTAssertEqual(try live.mapStoredChunks(using: mapper), 2)
        XCTAssertEqual(live.allocatedBytes, 0)
        live = ChunkedRows(width: width)
        XCTAssertEqual(mapper.live, 0)
    }

    /// A row block read back with `vectors: true` is mapped when the source maps vectors, and loaded otherwise.
    func testReadingRowsMapsOnlyVectorsAndOnlyWhenAsked() throws {
        let width = 3, n = ChunkedRows.rowsPerChunk + 10
        let files = MemoryRowChunks()
        var w = BinaryWriter()
        w.rowSink = files
        w.write(rows: rows(n, width: width, seed: 0.5))
        for (mapsVectors, vectors, expectMapped) in [(true, true, true), (true, false, false), (false, true, false)] {
            var r = BinaryReader(w.bytes)
            let mapper = ReadOnlyRowChunks(files, mapsVectors: mapsVectors)
            r.rowSource = mapper
            let read = try r.readRows(width: width, count: n, vectors: vectors)
            XCTAssertEqual(read.contiguous(), rows(n, width: width, seed: 0.5).contiguous())
            XCTAssertEqual(read.mappedBytes > 0, expectMapped, "\(mapsVectors) \(vectors)")
            XCTAssertEqual(mapper.mapped, expectMapped ? 2 : 0)
        }
    }
}

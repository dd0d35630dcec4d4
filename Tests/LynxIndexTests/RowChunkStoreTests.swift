import LynxIndex
import LynxSupport
import XCTest

/// A sink and source in memory: counts what was stored anew and what was reused.
final class MemoryRowChunks: RowChunkSink, RowChunkSource, @unchecked Sendable {
    var files: [UInt64: [Float]] = [:]
    var stored = 0
    var reused = 0
    private var next: UInt64 = 1

    func store(rows: Int, width: Int, base: UnsafePointer<Float>, existing: RowChunkReference?) -> RowChunkReference {
        XCTAssertEqual(Int(bitPattern: base) % 4096, 0, "chunk memory must be 4096-byte aligned (O_DIRECT)")
        if let existing, existing.rows >= rows, files[existing.token] != nil {
            reused += 1
            return existing
        }
        stored += 1
        let token = next
        next += 1
        files[token] = Array(UnsafeBufferPointer(start: base, count: rows * width))
        return RowChunkReference(token: token, rows: rows, checksum: UInt32(truncatingIfNeeded: token &* 2654435761))
    }

    func load(_ reference: RowChunkReference, width: Int, into: UnsafeMutableBufferPointer<Float>) throws {
        guard let rows = files[reference.token], rows.count == reference.rows * width,
              reference.checksum == UInt32(truncatingIfNeeded: reference.token &* 2654435761) else {
            throw BinaryDecodingError.corrupt("no chunk \(reference.token)")
        }
        _ = into.initialize(from: rows)
    }

    func resetCounts() { stored = 0; reused = 0 }
}

/// Row chunks stored out of line (`BinaryWriter.rowSink`): a snapshot stores only the chunks written to since
/// the last one, and reads back exactly what an inline serialization holds.
final class RowChunkStoreTests: XCTestCase {
    let dim = 8

    func serialize(_ index: any VectorIndex, _ sink: MemoryRowChunks?) -> [UInt8] {
        var w = BinaryWriter()
        w.rowSink = sink
        index.serialize(into: &w)
        return w.bytes
    }

    func decode(_ bytes: [UInt8], _ source: MemoryRowChunks?) throws -> any VectorIndex {
        var r = BinaryReader(bytes)
        r.rowSource = source
        return try IndexKind.decode(from: &r)
    }

    func flat(_ n: Int, seed: UInt64 = 1) -> FlatIndex {
        var rng = TestRNG(seed: seed)
        var index = FlatIndex(dimension: dim, metric: .l2)
        for id in 0..<UInt64(n) { index.upsert(id: id, vector: rng.vector(dim)) }
        return index
    }

    func testOnlyChunksWrittenToSinceTheLastStoreAreStoredAgain() throws {
        let sink = MemoryRowChunks()
        var index = flat(3000)  // chunks of 1024, 1024, 952 rows
        _ = serialize(index, sink)
        XCTAssertEqual(sink.stored, 3)

        sink.resetCounts()
        _ = serialize(index, sink)
        XCTAssertEqual([sink.stored, sink.reused], [0, 3], "nothing changed")

        sink.resetCounts()
        index.upsert(id: 1500, vector: [Float](repeating: 7, count: dim))  // replaces a row in chunk 1
        _ = serialize(index, sink)
        XCTAssertEqual([sink.stored, sink.reused], [1, 2])

        sink.resetCounts()
        index.upsert(id: 5000, vector: [Float](repeating: 3, count: dim))  // appends to chunk 2
        _ = serialize(index, sink)
        XCTAssertEqual([sink.stored, sink.reused], [1, 2])

        sink.resetCounts()
        XCTAssertTrue(index.remove(10))  // the last row moves into chunk 0; chunk 2 only shrinks
        let bytes = serialize(index, sink)
        XCTAssertEqual([sink.stored, sink.reused], [1, 2], "a chunk that only lost rows at its end keeps its file")

        let back = try decode(bytes, sink)
        XCTAssertEqual(back.count, index.count)
        for id in [0, 9, 11, 1023, 1024, 1500, 2999, 5000] as [UInt64] {
            XCTAssertEqual(back.vector(id), index.vector(id), "id \(id)")
        }
        XCTAssertNil(back.vector(10))
        // What it decoded serializes, inline, to the same bytes as the original.
        XCTAssertEqual(serialize(back, nil), serialize(index, nil))
    }

    func testDecodedChunksKeepTheirReferences() throws {
        let sink = MemoryRowChunks()
        let index = flat(2100)
        let back = try decode(serialize(index, sink), sink)
        sink.resetCounts()
        _ = serialize(back, sink)
        XCTAssertEqual([sink.stored, sink.reused], [0, 3], "chunks read from store are not stored again")
    }

    func testACopySharingAChunkKeepsItsReferenceWhenTheOtherIsWrittenTo() throws {
        let sink = MemoryRowChunks()
        var live = flat(2048)
        let captured = live  // the checkpoint's O(1) capture: both share every chunk
        _ = serialize(captured, sink)
        XCTAssertEqual(sink.stored, 2)
        live.upsert(id: 3, vector: [Float](repeating: 1, count: dim))  // copies chunk 0 for `live` only
        sink.resetCounts()
        _ = serialize(captured, sink)
        XCTAssertEqual([sink.stored, sink.reused], [0, 2], "the capture's chunks are unchanged")
        sink.resetCounts()
        _ = serialize(live, sink)
        XCTAssertEqual([sink.stored, sink.reused], [1, 1], "the live copy's chunk 0 was written to")
    }

    func testHNSWRoundTripsThroughStoredChunks() throws {
        var rng = TestRNG(seed: 7)
        var index = HNSWIndex(dimension: dim, metric: .cosine, m: 8, efConstruction: 40, seed: 3)
        for id in 0..<1500 as Range<UInt64> { index.upsert(id: id, vector: rng.vector(dim)) }
        XCTAssertTrue(index.remove(77))
        let sink = MemoryRowChunks()
        let back = try decode(serialize(index, sink), sink)
        XCTAssertEqual(sink.stored, 2)
        XCTAssertEqual(serialize(back, nil), serialize(index, nil))
        let q = rng.vector(dim)
        XCTAssertEqual(back.search(q, k: 10), index.search(q, k: 10))
    }

    func testVersion1FlatWithPlainRowsStillDecodes() throws {
        let index = flat(1100)
        var v2 = serialize(index, nil)
        // Version 1 is version 2 without the row block's mode byte (0 = inline), which follows the ids.
        let modeOffset = 4 + 4 + 4 + 1 + 8 + 8 * index.count
        XCTAssertEqual(v2[modeOffset], 0)
        v2.remove(at: modeOffset)
        v2.replaceSubrange(4..<8, with: [1, 0, 0, 0])
        let back = try decode(v2, nil)
        XCTAssertEqual(serialize(back, nil), serialize(index, nil))
    }

    func testOutOfLineRowsNeedASourceAndTheRightChunkCount() throws {
        let sink = MemoryRowChunks()
        let index = flat(1500)
        let bytes = serialize(index, sink)
        XCTAssertThrowsError(try decode(bytes, nil)) { error in
            XCTAssertTrue("\(error)".contains("no chunk source"), "\(error)")
        }
        // The chunk count follows the mode byte: claim 3 chunks for 1,500 rows.
        let countOffset = 4 + 4 + 4 + 1 + 8 + 8 * index.count + 1
        var wrong = bytes
        wrong[countOffset] = 3
        XCTAssertThrowsError(try decode(wrong, sink)) { error in
            XCTAssertTrue("\(error)".contains("row chunks for 1500 rows"), "\(error)")
        }
        // A source that cannot load a chunk fails the decode.
        sink.files.removeAll()
        XCTAssertThrowsError(try decode(bytes, sink))
    }
}

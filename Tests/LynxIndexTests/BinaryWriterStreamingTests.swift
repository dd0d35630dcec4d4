import LynxIndex
import LynxSupport
import XCTest

/// A streaming `BinaryWriter` (what checkpoints use) must emit exactly the bytes the in-memory writer collects,
/// for every index structure, whatever the piece size.
final class BinaryWriterStreamingTests: XCTestCase {
    func streamed(flushBytes: Int, _ body: (inout BinaryWriter) -> Void) -> (bytes: [UInt8], pieces: Int) {
        var out: [UInt8] = []
        var pieces = 0
        var w = BinaryWriter(streamingTo: { piece in out.append(contentsOf: piece); pieces += 1 }, flushBytes: flushBytes)
        body(&w)
        w.flush()
        XCTAssertTrue(w.bytes.isEmpty, "everything was handed to the sink")
        return (out, pieces)
    }

    func assertSameBytes(_ index: any VectorIndex, _ name: String) {
        let whole = index.serializedBytes()
        for flushBytes in [64, 4096, 1 << 20] {
            let (bytes, pieces) = streamed(flushBytes: flushBytes) { index.serialize(into: &$0) }
            XCTAssertEqual(bytes.count, whole.count, "\(name) flushBytes \(flushBytes)")
            XCTAssertTrue(bytes == whole, "\(name) flushBytes \(flushBytes): bytes differ")
            if flushBytes == 64 { XCTAssertGreaterThan(pieces, 2, "\(name): streamed in pieces") }
        }
    }

    func testEveryIndexStreamsTheSameBytes() {
        var rng = TestRNG(seed: 3)
        let dim = 20
        let items = (0..<2500).map { (UInt64($0 * 3 + 1), rng.vector(dim)) }  // more than two 1,024-row chunks
        for metric in [Metric.l2, .cosine] {
            var flat = FlatIndex(dimension: dim, metric: metric)
            var ivf = IVFIndex(dimension: dim, metric: metric, nClusters: 8, trainThreshold: 1000)
            for (id, v) in items { flat.upsert(id: id, vector: v); ivf.upsert(id: id, vector: v) }
            flat.remove(4)
            assertSameBytes(flat, "flat \(metric)")
            assertSameBytes(ivf, "ivf \(metric)")
            var hnsw = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 40, seed: 5)
            for (id, v) in items.prefix(600) { hnsw.upsert(id: id, vector: v) }
            hnsw.remove(7)
            assertSameBytes(hnsw, "hnsw \(metric)")
        }
    }

    func testSmallValuesAndBulkArraysKeepTheirOrder() {
        let floats: [Float] = (0..<1000).map { Float($0) * 0.5 }
        let body: (inout BinaryWriter) -> Void = { w in
            w.write(UInt32(7))
            w.write(contentsOf: floats)          // bulk: goes to the sink directly
            w.write(UInt8(9))
            w.write(contentsOf: [UInt64](repeating: 3, count: 5))
            w.write(Float(1.25))
        }
        var whole = BinaryWriter()
        body(&whole)
        XCTAssertEqual(streamed(flushBytes: 256, body).bytes, whole.bytes)
    }
}

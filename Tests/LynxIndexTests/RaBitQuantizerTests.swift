import CLynxKernels
import LynxIndex
import XCTest

/// Extended RaBitQ: the integer kernels of its code layouts against their references, and the estimator's
/// properties (exact on the coded vector itself, unbiased over rotations, error shrinking with the bits).
final class RaBitQuantizerTests: XCTestCase {
    /// Every length from 1 to 1,024 and every layout (1 bit, nibbles, bytes): codes packed by the quantizer's own
    /// packer, random weights up to the bound the quantizer keeps; the AVX2 kernel, the C reference and a sum over
    /// the unpacked values give the same integer, and unpacking gives back the values packed.
    func testTheKernelsEqualTheReferenceAtEveryLength() throws {
        var rng = TestRNG(seed: 17)
        let avx2 = Distance.usesAVX2
        if !avx2 { print("SKIP (part): the CPU has no AVX2; only the reference kernels run") }
        for bits in [1, 3, 4, 8] {
            let top = (1 << bits) - 1
            for n in 1...1024 {
                let bound = Int16(min(Int(Int16.max), Int(Int32.max) / (top * n)))
                let u = (0..<n).map { i in i % 11 == 0 ? UInt8(top) : UInt8.random(in: 0...UInt8(top), using: &rng) }
                let weights = (0..<n).map { i in i % 7 == 0 ? (i % 2 == 0 ? bound : -bound) : Int16.random(in: -bound...bound, using: &rng) }
                var code = [UInt8](repeating: 0, count: RaBitQuantizer.codeBytes(dimension: n, bits: bits))
                RaBitQuantizer.pack(u, dimension: n, bits: bits, into: &code)
                XCTAssertEqual(RaBitQuantizer.unpack(code, dimension: n, bits: bits), u, "bits \(bits) n=\(n)")
                let exact = zip(u, weights).reduce(Int64(0)) { $0 + Int64($1.0) * Int64($1.1) }
                let reference: Int32, fast: Int32?
                switch bits {
                case 1:
                    reference = lynx_dot_u1_i16(code, weights, n)
                    fast = avx2 ? lynx_dot_u1_i16_avx2(code, weights, n) : nil
                case 2...4:
                    reference = lynx_dot_u4_i16(code, weights, n)
                    fast = avx2 ? lynx_dot_u4_i16_avx2(code, weights, n) : nil
                default:
                    reference = lynx_dot_u8_i16(code, weights, n)
                    fast = avx2 ? lynx_dot_u8_i16_avx2(code, weights, n) : nil
                }
                XCTAssertEqual(Int64(reference), exact, "bits \(bits) n=\(n)")
                if let fast { XCTAssertEqual(fast, reference, "bits \(bits) n=\(n)") }
                XCTAssertEqual(code.withUnsafeBufferPointer { RaBitQuantizer.integerDot($0.baseAddress!, weights, n, bits: bits) },
                               reference, "bits \(bits) n=\(n)")
                // All codes at the top against all weights at +bound: the largest sum the bound allows.
                let full = [UInt8](repeating: UInt8(top), count: n), highest = [Int16](repeating: bound, count: n)
                var fullCode = [UInt8](repeating: 0, count: code.count)
                RaBitQuantizer.pack(full, dimension: n, bits: bits, into: &fullCode)
                XCTAssertEqual(Int64(fullCode.withUnsafeBufferPointer { RaBitQuantizer.integerDot($0.baseAddress!, highest, n, bits: bits) }),
                               Int64(top) * Int64(bound) * Int64(n), "bits \(bits) n=\(n)")
            }
        }
    }

    /// The rotation is orthogonal: PᵀP = I to float precision.
    func testTheRotationIsOrthogonal() {
        for d in [1, 2, 7, 64, 129] {
            let p = RaBitQuantizer.randomRotation(dimension: d, seed: 3)
            for a in 0..<d {
                for b in 0..<d {
                    var dot: Double = 0
                    for k in 0..<d { dot += Double(p[a * d + k]) * Double(p[b * d + k]) }
                    XCTAssertEqual(dot, a == b ? 1 : 0, accuracy: 1e-5, "d=\(d) rows \(a), \(b)")
                }
            }
        }
    }

    private func fitted(_ rows: [[Float]], bits: Int, seed: UInt64) -> RaBitQuantizer {
        let dim = rows[0].count, flat = rows.flatMap { $0 }
        return flat.withUnsafeBufferPointer { p in
            RaBitQuantizer(dimension: dim, bits: bits, seed: seed, count: rows.count, row: { p.baseAddress! + $0 * dim },
                           scale: { _ in 1 })
        }
    }

    private func estimate(_ quantizer: RaBitQuantizer, _ metric: Metric, x: [Float], q: [Float]) -> Float {
        var code = [UInt8](repeating: 0, count: quantizer.codeBytes)
        let factors = x.withUnsafeBufferPointer { quantizer.encode($0.baseAddress!, scale: 1, metric: metric, into: &code) }
        let query = q.withUnsafeBufferPointer { quantizer.query($0.baseAddress!, scale: 1, metric: metric) }
        let dot = code.withUnsafeBufferPointer { c in
            query.weights.withUnsafeBufferPointer { RaBitQuantizer.integerDot(c.baseAddress!, $0.baseAddress!, quantizer.dimension, bits: quantizer.bits) }
        }
        return RaBitQuantizer.score(metric, query, dot: dot, factors)
    }

    /// A vector against its own code: the l2 estimate is 0 and the dot estimate −‖x‖², up to the rounding of the
    /// query's weights, for every bit count.
    func testTheEstimateIsExactForTheCodedVector() {
        var rng = TestRNG(seed: 5)
        let dim = 40
        let rows = (0..<200).map { _ in rng.vector(dim) }
        for bits in RaBitQuantizer.bitRange {
            let quantizer = fitted(rows, bits: bits, seed: 9)
            for x in rows.prefix(20) {
                let norm = x.reduce(0) { $0 + $1 * $1 }
                XCTAssertEqual(estimate(quantizer, .l2, x: x, q: x), 0, accuracy: 1e-3 * norm, "bits \(bits)")
                XCTAssertEqual(estimate(quantizer, .dot, x: x, q: x), -norm, accuracy: 1e-3 * norm, "bits \(bits)")
            }
        }
    }

    /// Over random rotations the estimate of ⟨x, q⟩ averages to the true value (the estimator is unbiased), and
    /// its error over pairs of vectors shrinks as the bits grow (about halving per bit past the first).
    func testTheEstimateIsUnbiasedAndSharpensWithTheBits() {
        var rng = TestRNG(seed: 8)
        let dim = 64
        let rows = (0..<300).map { _ in rng.vector(dim) }
        let x = rows[0], q = rows[1], truth = -zip(x, q).reduce(0) { $0 + $1.0 * $1.1 }
        for bits in [1, 4] {
            var sum: Double = 0, squares: Double = 0
            let trials = 300
            for seed in 0..<trials {
                let e = Double(estimate(fitted(rows, bits: bits, seed: UInt64(seed)), .dot, x: x, q: q))
                sum += e
                squares += e * e
            }
            let mean = sum / Double(trials), deviation = (squares / Double(trials) - mean * mean).squareRoot()
            print("rabitq bits \(bits): mean estimate \(mean) over \(trials) rotations, truth \(truth), deviation \(deviation)")
            XCTAssertEqual(mean, Double(truth), accuracy: 4 * deviation / Double(trials).squareRoot() + 1e-3, "bits \(bits)")
        }
        var errors: [Double] = []
        for bits in RaBitQuantizer.bitRange {
            let quantizer = fitted(rows, bits: bits, seed: 1)
            var squared: Double = 0, count = 0
            for i in 0..<100 {
                let a = rows[i], b = rows[299 - i]
                let exact = zip(a, b).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                let e = estimate(quantizer, .l2, x: a, q: b)
                squared += Double((e - exact) / exact) * Double((e - exact) / exact)
                count += 1
            }
            errors.append((squared / Double(count)).squareRoot())
        }
        print("rabitq l2 relative rms error by bits 1...8 at d=64: \(errors.map { String(format: "%.4f", $0) })")
        for b in 1..<errors.count { XCTAssertLessThan(errors[b], errors[b - 1] * 0.8, "bits \(b + 1) no sharper than \(b)") }
        XCTAssertLessThan(errors[7], 0.01)
    }
}

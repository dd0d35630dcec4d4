import CLynxKernels
#if canImport(Glibc)
import Glibc  // log, cos, sin, pow
#elseif canImport(Darwin)
import Darwin
#endif

/// Extended RaBitQ (Gao & Long, SIGMOD 2024; Gao et al., SIGMOD 2025): `bits` (1...8) per dimension of a randomly
/// rotated residual, with the per-vector factor that makes the inner-product estimate unbiased.
///
/// Coding `x` (under cosine, the unit vector `x/‖x‖`): the residual `r = x − c` from the centroid `c` (the mean of
/// the fit sample) is rotated, `o = P·r` (`P` a random orthogonal matrix, drawn from `seed`), and each
/// dimension gets an unsigned code `u[i]` in 0...2^bits − 1 that stands for the half-integer
/// `y[i] = u[i] − (2^bits − 1)/2`: the sign of `o[i]` and, for bits ≥ 2, `|y[i]| − ½ = min(⌊t·|o[i]|⌋, 2^(bits−1) − 1)`
/// with the scale `t` that brings `y` closest in angle to `o` (searched on a grid of scales; bits 1 has no scale).
/// With the code go two floats (`Factors`): `factor = ‖r‖² / ⟨y, o⟩` and a `term` (‖r‖² under l2, ⟨r, c⟩ otherwise).
///
/// Estimating: for any vector `v`, `⟨r, v⟩ ≈ factor·⟨y, P·v⟩` (exact for v = r, unbiased over the rotation). A query
/// `q` is prepared once (`Query`): `v = q − c` rotated, rounded to 16-bit integer weights with one scale, so that
/// `⟨y, P·v⟩` is `unit·(Σ u[i]·w[i]) + offset` (integer kernels in CLynxKernels, `integerDot`). Then
///     l2:      ‖x − q‖² = ‖r‖² + ‖v‖² − 2⟨r, v⟩
///     dot:     ⟨x, q⟩   = ⟨r, v⟩ + ⟨r, c⟩ + ⟨c, q⟩
///     cosine:  the same as dot, of the unit vectors.
///
/// Code layouts (`codeBytes`), chosen by `bits` so that each has an integer kernel:
///     1      one bit a dimension: bit i mod 8 of byte ⌊i/8⌋
///     2...4  one nibble a dimension, in blocks of 32 dimensions (16 bytes): dimension 32k + j in byte 16k + (j mod 16),
///            low nibble for j < 16, high nibble for j ≥ 16 (so 2 and 3 bits take as much room as 4)
///     5...8  one byte a dimension
///
/// Pure value; thread safe as a value.
public struct RaBitQuantizer: Sendable, Equatable {
    public let dimension: Int
    public let bits: Int
    /// Row-major `dimension × dimension`, orthogonal.
    public let rotation: [Float]
    public let centroid: [Float]

    /// The bits a code may have per dimension.
    public static let bitRange = 1...8
    /// The largest dimension a rotation is made for (a dense matrix of dimension² floats).
    public static let maxDimension = 2048

    public init(bits: Int, rotation: [Float], centroid: [Float]) {
        precondition(Self.bitRange.contains(bits), "bits out of range")
        precondition(!centroid.isEmpty && rotation.count == centroid.count * centroid.count, "a square rotation")
        dimension = centroid.count
        self.bits = bits
        self.rotation = rotation
        self.centroid = centroid
    }

    /// Fitted on `count` rows of `dimension` floats, each `row(r)` scaled by `scale(r)`: the centroid is their
    /// mean, the rotation the one `seed` draws (`randomRotation`).
    public init(dimension: Int, bits: Int, seed: UInt64, count: Int, row: (Int) -> UnsafePointer<Float>,
                scale: (Int) -> Float) {
        precondition(count > 0, "fitted on no vectors")
        var sum = [Double](repeating: 0, count: dimension)
        for r in 0..<count {
            let p = row(r), s = scale(r)
            for i in 0..<dimension { sum[i] += Double(p[i] * s) }
        }
        self.init(bits: bits, rotation: Self.randomRotation(dimension: dimension, seed: seed),
                  centroid: sum.map { Float($0 / Double(count)) })
    }

    /// A random orthogonal matrix (row-major): Gaussian rows drawn from `seed`, orthonormalized by modified
    /// Gram-Schmidt in double precision.
    public static func randomRotation(dimension d: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var m = [Double](repeating: 0, count: d * d)
        var i = 0
        while i < d * d {
            // Box-Muller: two normal values from two uniform ones.
            let u1 = 1 - rng.unit(), u2 = rng.unit()
            let radius = (-2 * log(u1)).squareRoot()
            m[i] = radius * cos(2 * .pi * u2)
            if i + 1 < d * d { m[i + 1] = radius * sin(2 * .pi * u2) }
            i += 2
        }
        m.withUnsafeMutableBufferPointer { p in
            let a = p.baseAddress!
            for r in 0..<d {
                let row = a + r * d
                for _ in 0..<2 {  // twice is enough (Giraud et al.), for rows nearly dependent in float
                    for prev in 0..<r {
                        let other = a + prev * d
                        var dot = 0.0
                        for k in 0..<d { dot += row[k] * other[k] }
                        for k in 0..<d { row[k] -= dot * other[k] }
                    }
                }
                var norm = 0.0
                for k in 0..<d { norm += row[k] * row[k] }
                let inv = 1 / norm.squareRoot()
                for k in 0..<d { row[k] *= inv }
            }
        }
        return m.map { Float($0) }
    }

    /// Bytes of one code (layouts in the type's comment).
    public var codeBytes: Int { Self.codeBytes(dimension: dimension, bits: bits) }

    public static func codeBytes(dimension d: Int, bits: Int) -> Int {
        switch bits {
        case 1: return (d + 7) / 8
        case 2...4: return 16 * (d / 32) + min(d % 32, 16)
        default: return d
        }
    }

    /// (2^bits − 1)/2: `y[i] = u[i] − center`.
    var center: Float { Float((1 << bits) - 1) / 2 }

    /// The two floats stored with a code.
    public struct Factors: Sendable, Equatable {
        /// ‖r‖² / ⟨y, P·r⟩ (0 for a vector at the centroid).
        public var factor: Float
        /// ‖r‖² under l2; ⟨r, c⟩ under dot and cosine.
        public var term: Float
    }

    /// `o = P·r`, the rotated `r`, into `out`: one query against the matrix's rows in the blocked kernel, which
    /// reads `r` once for three rows (a query's rotation was as costly as all its code distances with one `dot` a
    /// row: BENCHMARKS.md, "Compressed vectors, part 2").
    func rotate(_ r: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        rotation.withUnsafeBufferPointer { p in
            Distance.dotBlock(r, 1, p.baseAddress!, dimension, dimension, into: out, ldo: dimension)
        }
    }

    /// Writes the code of `x` (scaled by `scale`) to `code[0..<codeBytes]` (zeroed by the caller) and returns
    /// its factors.
    @discardableResult
    public func encode(_ x: UnsafePointer<Float>, scale: Float, metric: Metric,
                       into code: UnsafeMutablePointer<UInt8>) -> Factors {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { o in
            let o = o.baseAddress!
            let r = rotatedResidual(x, scale: scale, into: o)
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: dimension) { u in
                let u = u.baseAddress!
                let ip = unsignedCode(o, into: u)
                Self.pack(u, dimension: dimension, bits: bits, into: code)
                return Factors(factor: ip > 0 ? r.squaredNorm / ip : 0, term: r.term(metric))
            }
        }
    }

    /// What `rotatedResidual` returns besides the rotated residual: ‖r‖² and ⟨r, c⟩.
    struct Residual {
        var squaredNorm: Float
        var withCentroid: Float

        /// The term a code of `metric` carries (`Factors.term`).
        func term(_ metric: Metric) -> Float { metric == .l2 ? squaredNorm : withCentroid }
    }

    /// `o = P·r` with `r = x·scale − c`, into `o`.
    func rotatedResidual(_ x: UnsafePointer<Float>, scale: Float, into o: UnsafeMutablePointer<Float>) -> Residual {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { r in
            let r = r.baseAddress!
            var residual = Residual(squaredNorm: 0, withCentroid: 0)
            for i in 0..<dimension {
                r[i] = x[i] * scale - centroid[i]
                residual.squaredNorm += r[i] * r[i]
                residual.withCentroid += r[i] * centroid[i]
            }
            rotate(r, into: o)
            return residual
        }
    }

    /// The unsigned code of the rotated residual `o`, into `u`; returns ⟨y, o⟩.
    func unsignedCode(_ o: UnsafePointer<Float>, into u: UnsafeMutablePointer<UInt8>) -> Float {
        let half = 1 << (bits - 1), top = half - 1
        var largest: Float = 0
        for i in 0..<dimension { largest = max(largest, abs(o[i])) }
        // |y[i]| − ½ for the scale t (0 for every dimension with 1 bit).
        func magnitude(_ i: Int, _ t: Float) -> Int { min(Int(t * abs(o[i])), top) }
        var t: Float = 0
        if top > 0 && largest > 0 {
            // cos ∠(y, o) for the scale s·half/largest, on a geometric grid of s, then a finer one around the best.
            func cosine(_ s: Float) -> Float {
                let t = s * Float(half) / largest
                var ip: Float = 0, norm: Float = 0
                for i in 0..<dimension {
                    let y = Float(magnitude(i, t)) + 0.5
                    ip += y * abs(o[i])
                    norm += y * y
                }
                return ip / norm.squareRoot()
            }
            let steps = 12, low: Float = 0.2, ratio = pow(Float(20), 1 / Float(steps - 1))  // 0.2 ... 4
            var best = low, bestCos = -Float.infinity, s = low
            for _ in 0..<steps {
                let c = cosine(s)
                if c > bestCos { bestCos = c; best = s }
                s *= ratio
            }
            var fine = best / ratio
            let fineStep = (best * ratio - fine) / 11
            for _ in 0...11 {
                let c = cosine(fine)
                if c > bestCos { bestCos = c; best = fine }
                fine += fineStep
            }
            t = best * Float(half) / largest
        }
        var ip: Float = 0
        let center = self.center
        for i in 0..<dimension {
            let m = magnitude(i, t)
            let value = o[i] >= 0 ? half + m : top - m
            u[i] = UInt8(value)
            ip += (Float(value) - center) * o[i]
        }
        return ip
    }

    /// `u` (one value a byte, `dimension` of them) in the layout of `bits` (the caller zeroed `code`).
    package static func pack(_ u: UnsafePointer<UInt8>, dimension: Int, bits: Int, into code: UnsafeMutablePointer<UInt8>) {
        switch bits {
        case 1:
            for i in 0..<dimension { code[i >> 3] |= u[i] << UInt8(i & 7) }
        case 2...4:
            for i in 0..<dimension {
                let j = i & 31, byte = 16 * (i >> 5) + (j & 15)
                code[byte] |= j < 16 ? u[i] : u[i] << 4
            }
        default:
            for i in 0..<dimension { code[i] = u[i] }
        }
    }

    /// The unsigned code values of a packed code, one a dimension.
    package static func unpack(_ code: UnsafePointer<UInt8>, dimension: Int, bits: Int) -> [UInt8] {
        (0..<dimension).map { value(code, $0, bits: bits) }
    }

    /// The unsigned code value of dimension `i` of a packed code.
    @inline(__always)
    static func value(_ code: UnsafePointer<UInt8>, _ i: Int, bits: Int) -> UInt8 {
        switch bits {
        case 1: return (code[i >> 3] >> UInt8(i & 7)) & 1
        case 2...4:
            let j = i & 31, byte = code[16 * (i >> 5) + (j & 15)]
            return j < 16 ? byte & 0x0F : byte >> 4
        default: return code[i]
        }
    }

    /// `factor·y`, the code's estimate of the rotated residual (⟨factor·y, P·v⟩ is the estimate of ⟨r, v⟩), into
    /// `out[0..<dimension]`.
    func reconstruct(_ code: UnsafePointer<UInt8>, factor: Float, into out: UnsafeMutablePointer<Float>) {
        let center = self.center
        switch bits {
        case 1: for i in 0..<dimension { out[i] = factor * (Float(Self.value(code, i, bits: 1)) - center) }
        case 2...4: for i in 0..<dimension { out[i] = factor * (Float(Self.value(code, i, bits: 4)) - center) }
        default: for i in 0..<dimension { out[i] = factor * (Float(code[i]) - center) }
        }
    }

    /// A query prepared for estimating against codes.
    public struct Query {
        /// ⟨y, P·v⟩ ≈ unit·(Σ u[i]·weights[i]) + offset.
        public let unit: Float
        public let offset: Float
        public let weights: [Int16]
        /// ‖v‖² under l2; ⟨c, q⟩ under dot and cosine.
        public let term: Float
    }

    /// `q` scaled by `scale` (1/‖q‖ under cosine), against codes of `metric`.
    public func query(_ q: UnsafePointer<Float>, scale: Float, metric: Metric) -> Query {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * dimension) { scratch in
            let v = scratch.baseAddress!, rotated = v + dimension
            var squaredNorm: Float = 0, withCentroid: Float = 0
            for i in 0..<dimension {
                let qi = q[i] * scale
                v[i] = qi - centroid[i]
                squaredNorm += v[i] * v[i]
                withCentroid += qi * centroid[i]
            }
            rotate(v, into: rotated)
            var largest: Float = 0
            for i in 0..<dimension { largest = max(largest, abs(rotated[i])) }
            let term = metric == .l2 ? squaredNorm : withCentroid
            guard largest > 0 else {
                return Query(unit: 0, offset: 0, weights: [Int16](repeating: 0, count: dimension), term: term)
            }
            // The same bound as sq8's: no partial sum of (2^bits − 1)·|w| over the dimensions leaves 32 bits.
            let bound = Float(min(Int(Int16.max), Int(Int32.max) / (((1 << bits) - 1) * dimension)))
            let unit = largest / bound
            var sum = 0
            let weights = (0..<dimension).map { i in
                let w = Int16((rotated[i] / unit).rounded())
                sum += Int(w)
                return w
            }
            return Query(unit: unit, offset: -unit * center * Float(sum), weights: weights, term: term)
        }
    }

    /// Σ u[i]·weights[i] over a packed code (exact integers; AVX2 when the CPU has it).
    @inline(__always)
    public static func integerDot(_ code: UnsafePointer<UInt8>, _ weights: UnsafePointer<Int16>, _ n: Int,
                                  bits: Int) -> Int32 {
        switch bits {
        case 1: return Distance.usesAVX2 ? lynx_dot_u1_i16_avx2(code, weights, n) : lynx_dot_u1_i16(code, weights, n)
        case 2...4: return Distance.usesAVX2 ? lynx_dot_u4_i16_avx2(code, weights, n) : lynx_dot_u4_i16(code, weights, n)
        default: return ScalarQuantizer.integerDot(code, weights, n)
        }
    }

    /// The estimated score (`Metric`'s "smaller is closer" form) of a code with `factors` against `query`.
    @inline(__always)
    public static func score(_ metric: Metric, _ query: Query, dot: Int32, _ factors: Factors) -> Float {
        score(metric, unit: query.unit, offset: query.offset, term: query.term, dot: dot,
              factor: factors.factor, codeTerm: factors.term)
    }

    @inline(__always)
    static func score(_ metric: Metric, unit: Float, offset: Float, term: Float, dot: Int32, factor: Float,
                      codeTerm: Float) -> Float {
        let ip = factor * (unit * Float(dot) + offset)
        switch metric {
        case .l2: return codeTerm + term - 2 * ip
        case .dot: return -(ip + codeTerm + term)
        case .cosine: return 1 - (ip + codeTerm + term)
        }
    }
}

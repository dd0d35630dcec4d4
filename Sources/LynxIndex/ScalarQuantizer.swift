import CLynxKernels

/// 8-bit scalar quantization (SQ8) with a range per dimension: `x[i] ≈ lower[i] + step[i]·code[i]`, code 0...255.
///
/// Fitted on a sample of the vectors (their minimum and maximum per dimension); a value outside the fitted range
/// is clamped to it. Under cosine the vectors it encodes are the normalized ones, so that an inner product with
/// the codes estimates the cosine.
///
/// Estimating an inner product: for a query `q`, `q·x̃ = Σ q[i]·lower[i] + Σ (q[i]·step[i])·code[i]`. The second
/// sum runs in integers: the weights `q[i]·step[i]` are rounded to 16 bits with one scale per query
/// (`QueryWeights`), bounded so that the 32-bit sum cannot overflow (`lynx_dot_u8_i16`).
///
/// Pure value; thread safe as a value.
public struct ScalarQuantizer: Sendable, Equatable {
    public let dimension: Int
    public private(set) var lower: [Float]
    public private(set) var step: [Float]
    /// 1/step, so that coding multiplies.
    private let inverseStep: [Float]

    /// Vectors a quantizer is fitted on: the index encodes nothing before it has this many.
    public static let trainingSize = 1024

    public init(lower: [Float], step: [Float]) {
        precondition(lower.count == step.count && !lower.isEmpty, "one range per dimension")
        dimension = lower.count
        self.lower = lower
        self.step = step
        inverseStep = step.map { 1 / $0 }
    }

    /// Fitted on `count` rows of `dimension` floats, each given by `row(r)`, scaled by `scale(r)` (1/‖x‖ under
    /// cosine, else 1).
    public init(dimension: Int, count: Int, row: (Int) -> UnsafePointer<Float>, scale: (Int) -> Float) {
        precondition(count > 0, "fitted on no vectors")
        var lo = [Float](repeating: .infinity, count: dimension)
        var hi = [Float](repeating: -.infinity, count: dimension)
        for r in 0..<count {
            let p = row(r), s = scale(r)
            for i in 0..<dimension {
                let v = p[i] * s
                if v < lo[i] { lo[i] = v }
                if v > hi[i] { hi[i] = v }
            }
        }
        // A dimension with one value gets a step that keeps every code 0 and the value exact.
        let step = (0..<dimension).map { i in hi[i] > lo[i] ? (hi[i] - lo[i]) / 255 : 1 }
        self.init(lower: lo, step: step)
    }

    /// Writes the code of `x` (scaled by `scale`) to `code[0..<dimension]`; returns ‖x̃‖², the squared norm of the
    /// vector the code stands for.
    @discardableResult
    public func encode(_ x: UnsafePointer<Float>, scale: Float, into code: UnsafeMutablePointer<UInt8>) -> Float {
        var squaredNorm: Float = 0
        for i in 0..<dimension {
            let c = min(max(((x[i] * scale - lower[i]) * inverseStep[i]).rounded(), 0), 255)
            code[i] = UInt8(c)
            let decoded = lower[i] + step[i] * c
            squaredNorm += decoded * decoded
        }
        return squaredNorm
    }

    /// The vector a code stands for.
    public func decode(_ code: UnsafePointer<UInt8>) -> [Float] {
        [Float](unsafeUninitializedCapacity: dimension) { out, count in
            decode(code, into: out.baseAddress!)
            count = dimension
        }
    }

    /// The vector a code stands for, into `out[0..<dimension]`.
    public func decode(_ code: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<Float>) {
        lower.withUnsafeBufferPointer { lower in
            step.withUnsafeBufferPointer { step in
                for i in 0..<dimension { out[i] = lower[i] + step[i] * Float(code[i]) }
            }
        }
    }

    /// A query prepared for estimating inner products with codes.
    public struct QueryWeights {
        /// Σ q[i]·lower[i]
        public let offset: Float
        /// What one unit of the integer sum is worth.
        public let unit: Float
        public let weights: [Int16]
    }

    public func weights(for q: UnsafePointer<Float>, scale: Float = 1) -> QueryWeights {
        var offset: Float = 0, largest: Float = 0
        var real = [Float](repeating: 0, count: dimension)
        for i in 0..<dimension {
            let qi = q[i] * scale
            offset += qi * lower[i]
            real[i] = qi * step[i]
            largest = max(largest, abs(real[i]))
        }
        let bound = Float(min(Int(Int16.max), Int(Int32.max) / (255 * dimension)))
        guard largest > 0 else {
            return QueryWeights(offset: offset, unit: 0, weights: [Int16](repeating: 0, count: dimension))
        }
        let unit = largest / bound
        return QueryWeights(offset: offset, unit: unit, weights: real.map { Int16(($0 / unit).rounded()) })
    }

    /// Σ code[i]·weights[i] (exact integer arithmetic; AVX2 when the CPU has it).
    @inline(__always)
    public static func integerDot(_ code: UnsafePointer<UInt8>, _ weights: UnsafePointer<Int16>, _ n: Int) -> Int32 {
        Distance.usesAVX2 ? lynx_dot_u8_i16_avx2(code, weights, n) : lynx_dot_u8_i16(code, weights, n)
    }
}

/// One code of `width` bytes per row, stored in `ChunkedRows` cells (four code bytes to a cell), so that codes
/// share the rows' copy-on-write chunks and their chunk files. The cells are only ever copied as bytes, never
/// read as floats.
struct CodeRows: @unchecked Sendable {
    let width: Int
    var cells: ChunkedRows

    init(width: Int) {
        self.width = width
        cells = ChunkedRows(width: Self.cellsPerRow(width))
    }

    init(width: Int, cells: ChunkedRows) {
        self.width = width
        self.cells = cells
    }

    static func cellsPerRow(_ width: Int) -> Int { (width + 3) / 4 }

    var count: Int { cells.count }

    @inline(__always)
    func row(_ r: Int) -> UnsafePointer<UInt8> {
        UnsafeRawPointer(cells.row(r)).assumingMemoryBound(to: UInt8.self)
    }

    /// Row `r` (an existing one, or the next) set to what `encode` writes; the padding bytes are zero.
    mutating func set(_ r: Int, _ encode: (UnsafeMutablePointer<UInt8>) -> Void) {
        precondition(r <= cells.count, "code rows are appended in order")
        withUnsafeTemporaryAllocation(of: Float.self, capacity: cells.width) { scratch in
            let row = scratch.baseAddress!
            row.initialize(repeating: 0, count: cells.width)
            encode(UnsafeMutableRawPointer(row).assumingMemoryBound(to: UInt8.self))
            if r == cells.count { cells.append(row) } else { cells.setRow(r, from: row) }
        }
    }
}

import CLynxKernels

/// SIMD distance kernels over raw pointers.
///
/// On CPUs with AVX2 and FMA, vectors of 32 floats or more go to the C kernels of `CLynxKernels` (4 × 8-wide FMA
/// accumulators), chosen once at run time, because the Swift code is compiled for baseline x86-64 (SSE).
///
/// Each kernel runs two `SIMD8<Float>` accumulators over 16 floats per iteration, then one 8-wide and one
/// 4-wide step, then a scalar tail, so any length works and lengths that are multiples of 4 never touch the
/// scalar loop. No allocation, no bounds checks (the module builds with `-Ounchecked`), no reference counting.
/// With the default x86-64 target each `SIMD8<Float>` lowers to two 128-bit SSE registers (4 accumulators in all) (see docs/INDEXES.md).
///
/// Preconditions (unchecked): `a` and `b` point to at least `n` readable floats; `n >= 0`.
/// Thread safety: pure functions; use from any thread.
public enum Distance {
    /// Whether the AVX2+FMA kernels of `CLynxKernels` are used (CPU has them; `LYNX_KERNELS=sse` turns them off).
    /// They serve lengths ≥ `avx2MinLength`; shorter vectors keep the Swift SSE path (and its exact results).
    /// Read from a C global set at program load: a Swift `static let` would cost a lazy-initialisation check on
    /// every distance call (~0.5% of search time in perf).
    @inline(__always)
    public static var usesAVX2: Bool { lynx_kernels_avx2_flag != 0 }
    public static let avx2MinLength = 32

    /// Σ (a[i] − b[i])²
    @inline(__always)
    public static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if n >= avx2MinLength && usesAVX2 { return lynx_l2sq_avx2(a, b, n) }
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= n {
            let o = i &* 4
            let d0 = ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let d1 = ra.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
            acc0 = acc0 + d0 * d0
            acc1 = acc1 + d1 * d1
            i &+= 16
        }
        if i &+ 8 <= n {
            let o = i &* 4
            let d = ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            acc0 = acc0 + d * d
            i &+= 8
        }
        let acc8 = acc0 + acc1
        var acc4 = acc8.lowHalf + acc8.highHalf
        if i &+ 4 <= n {
            let o = i &* 4
            let d = ra.loadUnaligned(fromByteOffset: o, as: SIMD4<Float>.self)
                - rb.loadUnaligned(fromByteOffset: o, as: SIMD4<Float>.self)
            acc4 = acc4 + d * d
            i &+= 4
        }
        let acc2 = acc4.lowHalf + acc4.highHalf
        var s = acc2[0] + acc2[1]
        while i < n {
            let d = a[i] - b[i]
            s += d * d
            i &+= 1
        }
        return s
    }

    /// Σ a[i]·b[i]
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if n >= avx2MinLength && usesAVX2 { return lynx_dot_avx2(a, b, n) }
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= n {
            let o = i &* 4
            acc0 = acc0 + ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            acc1 = acc1 + ra.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
            i &+= 16
        }
        if i &+ 8 <= n {
            let o = i &* 4
            acc0 = acc0 + ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            i &+= 8
        }
        let acc8 = acc0 + acc1
        var acc4 = acc8.lowHalf + acc8.highHalf
        if i &+ 4 <= n {
            let o = i &* 4
            acc4 = acc4 + ra.loadUnaligned(fromByteOffset: o, as: SIMD4<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o, as: SIMD4<Float>.self)
            i &+= 4
        }
        let acc2 = acc4.lowHalf + acc4.highHalf
        var s = acc2[0] + acc2[1]
        while i < n {
            s += a[i] * b[i]
            i &+= 1
        }
        return s
    }

    /// 1 / ‖a‖ (computed in Double for the square root and division); 0 for a zero or non-finite norm.
    public static func inverseNorm(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        let nn = Double(dot(a, a, n))
        guard nn > 0, nn.isFinite else { return 0 }
        return Float(1.0 / nn.squareRoot())
    }

    /// The ranking score of `metric` between `a` and `b` (see `Metric`). `invA`/`invB` are the inverse norms;
    /// they are read only under `.cosine`.
    @inline(__always)
    public static func score(_ metric: Metric, _ a: UnsafePointer<Float>, _ invA: Float,
                             _ b: UnsafePointer<Float>, _ invB: Float, _ n: Int) -> Float {
        switch metric {
        case .l2: return l2Squared(a, b, n)
        case .cosine: return 1 - dot(a, b, n) * invA * invB
        case .dot: return -dot(a, b, n)
        }
    }

    /// Array conveniences (tests, tools). Precondition: equal lengths.
    public static func l2Squared(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            l2Squared(pa.baseAddress ?? UnsafePointer(bitPattern: 4)!, pb.baseAddress ?? UnsafePointer(bitPattern: 4)!, a.count)
        } }
    }

    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            dot(pa.baseAddress ?? UnsafePointer(bitPattern: 4)!, pb.baseAddress ?? UnsafePointer(bitPattern: 4)!, a.count)
        } }
    }
}

import CLynxKernels

extension Distance {
    /// A block of inner products: `out[i * ldo + j] = q_i · x_j` for `i < queryCount`, `j < rowCount`, where `q_i`
    /// starts at `queries + i * n` and `x_j` at `rows + j * n` (both row-major, `n` floats per vector).
    ///
    /// With AVX2+FMA this is the register-blocked C kernel (4 queries × 3 rows per micro-tile), which reads each
    /// row once per 4 queries; otherwise it falls back to `dot` per pair. The sums run in a different order from
    /// `dot`, so results may differ from it in the last bits: exact callers re-rank with `dot`/`l2Squared`.
    ///
    /// Preconditions (unchecked): the pointers cover the stated vectors; `out` has room for
    /// `(queryCount - 1) * ldo + rowCount` floats; `ldo >= rowCount`.
    @inline(__always)
    public static func dotBlock(_ queries: UnsafePointer<Float>, _ queryCount: Int,
                                _ rows: UnsafePointer<Float>, _ rowCount: Int, _ n: Int,
                                into out: UnsafeMutablePointer<Float>, ldo: Int) {
        if usesAVX2 {
            lynx_dot_block_avx2(queries, queryCount, rows, rowCount, n, out, ldo)
            return
        }
        for i in 0..<queryCount {
            let q = queries + i &* n
            for j in 0..<rowCount { out[i &* ldo &+ j] = dot(q, rows + j &* n, n) }
        }
    }
}

/// The secondary ("spilled") list of a vector, chosen as in SOAR (Sun, Guo, Kumar: "SOAR: Improved Indexing for
/// Approximate Nearest Neighbor Search", NeurIPS 2023).
///
/// With x the (clustering-space) point, c the primary centroid and r = x − c its residual, the spilled copy goes to
/// the centroid c′ ≠ c minimising
///
///     ‖r′‖² + λ · (⟨r, r′⟩ / ‖r‖)²,   r′ = x − c′.
///
/// The first term prefers a near centroid (λ = 0: the second-nearest). The second penalises a residual parallel
/// to r: a query that misses x's primary list usually lies in the direction of r from c, and a second list
/// whose residual is parallel to r is missed by the same queries. λ = 1 measured best on the dev set
/// (BENCHMARKS.md, "IVF measurements": recall per λ).
///
/// Cost: two passes over the k centroids (x·cⱼ and r·cⱼ), twice a primary assignment.
/// Thread safety: pure function over the caller's buffers.
enum SOAR {
    static let lambda: Float = 1

    /// The index of the spilled list for point `x · scale` (scale: 1/‖x‖ under cosine, else 1) whose primary list
    /// is `primary`; ties go to the lower index. Precondition: k ≥ 2. A point that sits on its centroid (r = 0)
    /// gets the second-nearest centroid.
    static func secondary(_ x: UnsafePointer<Float>, scale: Float, primary: Int, centroids: UnsafePointer<Float>,
                          norms: UnsafePointer<Float>, k: Int, d: Int, lambda: Float) -> Int {
        precondition(k >= 2, "SOAR needs two centroids")
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * d) { buf in
            let p = buf.baseAddress!, r = p + d
            let c = centroids + primary * d
            for t in 0..<d {
                p[t] = x[t] * scale
                r[t] = p[t] - c[t]
            }
            let pNorm = Distance.dot(p, p, d)
            let rNorm = Distance.dot(r, r, d)
            let rp = Distance.dot(r, p, d)
            let weight: Float = rNorm > 0 ? lambda / rNorm : 0
            // ‖p − cⱼ‖² = ‖p‖² + ‖cⱼ‖² − 2 p·cⱼ, from the spherical score −p·cⱼ
            var pc = [Float](repeating: 0, count: k)
            pc.withUnsafeMutableBufferPointer { pcb in
                KMeans.forEachScore(.spherical, p, centroids, norms, k, d) { j, s in pcb[j] = -s }
            }
            var best = -1
            var bestLoss = Float.infinity
            KMeans.forEachScore(.spherical, r, centroids, norms, k, d) { j, s in
                guard j != primary else { return }
                let rr = pNorm + norms[j] - 2 * pc[j]  // ‖r′‖²
                let parallel = rp + s                  // ⟨r, r′⟩ = r·p − r·cⱼ, and s = −r·cⱼ
                let loss = rr + weight * parallel * parallel
                if loss < bestLoss || best < 0 { bestLoss = loss; best = j }
            }
            return best
        }
    }
}

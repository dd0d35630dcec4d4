/// The distance function of an index.
///
/// Internally every index ranks by a *score* (lower is nearer):
/// - `l2`: squared Euclidean distance,
/// - `cosine`: 1 − cos θ, computed as 1 − (a·b)·invNorm(a)·invNorm(b) with inverse norms precomputed at insert,
/// - `dot`: −(a·b).
/// The distance reported to users (`SearchHit.distance`) is the same as the score except for `l2`,
/// where it is the square root of the score.
///
/// Thread safety: a value type with no state; use from any thread.
public enum Metric: String, CaseIterable, Sendable {
    case l2, cosine, dot

    /// Whether `vector` may be stored or searched under this metric: every component finite and,
    /// under `cosine`, a non-zero norm. Callers (the engine) check this before `upsert`/`search`;
    /// the indexes treat a violation as a programming error.
    public func isValid(_ vector: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = vector.baseAddress else { return vector.isEmpty && self != .cosine }
        for x in vector where !x.isFinite { return false }
        if self == .cosine {
            let nn = Distance.dot(base, base, vector.count)
            return nn > 0 && nn.isFinite
        }
        return true
    }

    /// Same as `isValid(_:)`, spelled as a static for callers holding an array.
    public static func isValidForMetric(_ metric: Metric, _ vector: [Float]) -> Bool {
        vector.withUnsafeBufferPointer { metric.isValid($0) }
    }

    /// The query's factor in the cosine score, 1/‖q‖ (1 under l2 and dot); nil when `q` cannot be searched under
    /// cosine (zero norm). Shared by the indexes' search entry points.
    @inline(__always)
    func queryInverseNorm(_ q: UnsafePointer<Float>, _ dim: Int) -> Float? {
        guard self == .cosine else { return 1 }
        let inv = Distance.inverseNorm(q, dim)
        return inv == 0 ? nil : inv
    }

    /// Converts an internal ranking score to the distance reported to users.
    @inlinable
    public func distance(fromScore score: Float) -> Float {
        switch self {
        case .l2: return score > 0 ? score.squareRoot() : 0
        case .cosine, .dot: return score
        }
    }
}

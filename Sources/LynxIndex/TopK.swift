/// A bounded max-heap that keeps the `k` smallest `(score, id)` pairs seen so far.
///
/// Order is lexicographic on `(score, id)`, so equal scores are broken by the lower id. `push` is O(log k) and
/// allocation-free once the heap holds `k` entries (storage is reserved up front).
/// Thread safety: a value type; one owner at a time.
public struct TopK {
    public let k: Int
    @usableFromInline var scores: [Float]
    @usableFromInline var ids: [UInt64]

    public init(k: Int) {
        precondition(k >= 0, "k must be non-negative")
        self.k = k
        scores = []
        ids = []
        scores.reserveCapacity(k)
        ids.reserveCapacity(k)
    }

    public var count: Int { scores.count }
    public var isFull: Bool { scores.count >= k }

    /// The worst kept score (the heap top), or +∞ while the heap is not full.
    public var threshold: Float { scores.count >= k && k > 0 ? scores[0] : .infinity }

    @inline(__always)
    static func worse(_ s1: Float, _ i1: UInt64, _ s2: Float, _ i2: UInt64) -> Bool {
        s1 > s2 || (s1 == s2 && i1 > i2)
    }

    /// Whether `(score, id)` would be kept by `push`. Cheap; lets callers skip expensive work (a filter call).
    @inline(__always)
    public func wouldAccept(score: Float, id: UInt64) -> Bool {
        if scores.count < k { return true }
        if k == 0 { return false }
        return TopK.worse(scores[0], ids[0], score, id)
    }

    @inline(__always)
    public mutating func push(score: Float, id: UInt64) {
        if scores.count < k {
            scores.append(score)
            ids.append(id)
            siftUp(scores.count - 1)
        } else if k > 0 && TopK.worse(scores[0], ids[0], score, id) {
            scores[0] = score
            ids[0] = id
            siftDown(0)
        }
    }

    @inline(__always)
    mutating func siftUp(_ start: Int) {
        var i = start
        let s = scores[i], d = ids[i]
        while i > 0 {
            let p = (i &- 1) >> 1
            if TopK.worse(s, d, scores[p], ids[p]) {
                scores[i] = scores[p]
                ids[i] = ids[p]
                i = p
            } else { break }
        }
        scores[i] = s
        ids[i] = d
    }

    @inline(__always)
    mutating func siftDown(_ start: Int) {
        let n = scores.count
        var i = start
        let s = scores[i], d = ids[i]
        while true {
            let l = 2 &* i &+ 1
            if l >= n { break }
            var c = l
            let r = l &+ 1
            if r < n && TopK.worse(scores[r], ids[r], scores[l], ids[l]) { c = r }
            if TopK.worse(scores[c], ids[c], s, d) {
                scores[i] = scores[c]
                ids[i] = ids[c]
                i = c
            } else { break }
        }
        scores[i] = s
        ids[i] = d
    }

    /// The kept pairs, best (smallest score, then lowest id) first.
    public func sorted() -> [(score: Float, id: UInt64)] {
        var out: [(score: Float, id: UInt64)] = []
        out.reserveCapacity(scores.count)
        for i in 0..<scores.count { out.append((scores[i], ids[i])) }
        out.sort { $0.score < $1.score || ($0.score == $1.score && $0.id < $1.id) }
        return out
    }

    /// The kept pairs as user-facing hits under `metric`, nearest first.
    public func hits(metric: Metric) -> [SearchHit] {
        sorted().map { SearchHit(id: $0.id, distance: metric.distance(fromScore: $0.score)) }
    }
}

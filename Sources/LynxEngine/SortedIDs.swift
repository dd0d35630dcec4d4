/// A set of record ids kept in ascending order, for paging through a store (`Engine.records(after:limit:)`).
///
/// Two levels: sorted leaves of at most `leafCapacity` ids, and the first id of each leaf. An insert or a removal
/// costs a binary search, a shift inside one leaf and, when a leaf splits or empties, a shift of the leaf list;
/// a page of `limit` ids costs a binary search and `limit` reads. A value: copying it is O(1) (copy-on-write),
/// and after a copy only the leaves a mutation touches are copied.
struct SortedIDs {
    static let leafCapacity = 1024

    /// Non-empty, sorted, each at most `leafCapacity` long; every id of leaf i is below every id of leaf i+1.
    private var leaves: [[UInt64]] = []
    /// `firsts[i] == leaves[i][0]`.
    private var firsts: [UInt64] = []
    private(set) var count = 0

    init() {}

    /// From ids in any order, without duplicates.
    init<S: Sequence>(_ ids: S) where S.Element == UInt64 {
        let sorted = ids.sorted()
        let half = Self.leafCapacity / 2  // half-full leaves leave room for inserts before the first split
        var start = 0
        while start < sorted.count {
            let end = min(start + half, sorted.count)
            leaves.append(Array(sorted[start..<end]))
            firsts.append(sorted[start])
            start = end
        }
        count = sorted.count
    }

    /// Inserts `id`; false when it was already there.
    @discardableResult
    mutating func insert(_ id: UInt64) -> Bool {
        guard !leaves.isEmpty else {
            leaves = [[id]]
            firsts = [id]
            count = 1
            return true
        }
        let l = leafIndex(for: id)
        let at = Self.lowerBound(id, in: leaves[l])
        if at < leaves[l].count && leaves[l][at] == id { return false }
        leaves[l].insert(id, at: at)
        if at == 0 { firsts[l] = id }
        count += 1
        if leaves[l].count > Self.leafCapacity {
            let upper = Array(leaves[l][(Self.leafCapacity / 2)...])
            leaves[l].removeLast(upper.count)
            leaves.insert(upper, at: l + 1)
            firsts.insert(upper[0], at: l + 1)
        }
        return true
    }

    /// Removes `id`; false when it was not there.
    @discardableResult
    mutating func remove(_ id: UInt64) -> Bool {
        guard !leaves.isEmpty else { return false }
        let l = leafIndex(for: id)
        let at = Self.lowerBound(id, in: leaves[l])
        guard at < leaves[l].count && leaves[l][at] == id else { return false }
        leaves[l].remove(at: at)
        count -= 1
        if leaves[l].isEmpty {
            leaves.remove(at: l)
            firsts.remove(at: l)
            return true
        }
        if at == 0 { firsts[l] = leaves[l][0] }
        // Merge a small leaf into its successor when both fit in one, so deletes do not leave many tiny leaves.
        if l + 1 < leaves.count && leaves[l].count + leaves[l + 1].count <= Self.leafCapacity / 2 {
            leaves[l].append(contentsOf: leaves[l + 1])
            leaves.remove(at: l + 1)
            firsts.remove(at: l + 1)
        }
        return true
    }

    /// Up to `limit` ids above `after` (from the smallest when nil), ascending; with `keep`, only the ids it keeps
    /// (the walk goes on until `limit` are kept or the ids run out).
    func ids(after: UInt64?, limit: Int, keep: ((UInt64) -> Bool)? = nil) -> [UInt64] {
        guard limit > 0, !leaves.isEmpty else { return [] }
        var l = 0, at = 0
        if let after {
            if after == .max { return [] }
            l = leafIndex(for: after + 1)
            at = Self.lowerBound(after + 1, in: leaves[l])
        }
        var out: [UInt64] = []
        out.reserveCapacity(min(limit, count))
        while l < leaves.count && out.count < limit {
            let leaf = leaves[l]
            if let keep {
                for id in leaf[at...] where keep(id) {
                    out.append(id)
                    if out.count == limit { break }
                }
            } else {
                let take = min(leaf.count - at, limit - out.count)
                out.append(contentsOf: leaf[at..<(at + take)])
            }
            l += 1
            at = 0
        }
        return out
    }

    /// Bytes held: the leaves' buffers (with their headers) and the list of first ids.
    var memoryBytes: Int {
        leaves.reduce(0) { $0 + 32 + $1.capacity * 8 } + leaves.capacity * 8 + firsts.capacity * 8
    }

    /// Every id, ascending.
    func forEach(_ body: (UInt64) throws -> Void) rethrows {
        for leaf in leaves { for id in leaf { try body(id) } }
    }

    /// The leaf that holds `id` or would: the last whose first id is at most `id` (the first leaf for smaller ids).
    private func leafIndex(for id: UInt64) -> Int {
        var lo = 0, hi = firsts.count  // answer in lo ..< hi
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if firsts[mid] <= id { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// The first position in sorted `leaf` whose id is at least `id`.
    private static func lowerBound(_ id: UInt64, in leaf: [UInt64]) -> Int {
        var lo = 0, hi = leaf.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if leaf[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

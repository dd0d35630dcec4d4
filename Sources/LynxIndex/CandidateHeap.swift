/// A candidate: internal slot and its ranking score.
@usableFromInline
struct Candidate: Sendable {
    @usableFromInline var score: Float
    @usableFromInline var slot: UInt32
    @inlinable init(_ score: Float, _ slot: UInt32) {
        self.score = score
        self.slot = slot
    }
}

/// A max-heap of candidates on manually managed storage (no ARC, no uniqueness checks), used in graph traversal.
/// A min-heap is obtained by pushing negated scores. Non-copyable: one owner, storage freed in `deinit`.
@usableFromInline
struct CandidateHeap: ~Copyable {
    @usableFromInline var buf: UnsafeMutablePointer<Candidate>
    @usableFromInline var count: Int
    @usableFromInline var capacity: Int

    @inlinable init(capacity: Int) {
        self.capacity = max(capacity, 16)
        buf = .allocate(capacity: self.capacity)
        count = 0
    }

    deinit { buf.deallocate() }

    @inlinable var isEmpty: Bool { count == 0 }
    @inlinable var top: Candidate { buf[0] }

    @inlinable mutating func push(_ score: Float, _ slot: UInt32) {
        if count == capacity { grow() }
        var i = count
        count &+= 1
        while i > 0 {
            let p = (i &- 1) >> 1
            let ps = buf[p]
            if ps.score >= score { break }
            buf[i] = ps
            i = p
        }
        buf[i] = Candidate(score, slot)
    }

    @usableFromInline mutating func grow() {
        let nb = UnsafeMutablePointer<Candidate>.allocate(capacity: capacity * 2)
        nb.moveInitialize(from: buf, count: count)
        buf.deallocate()
        buf = nb
        capacity *= 2
    }

    @inlinable @discardableResult mutating func pop() -> Candidate {
        let result = buf[0]
        count &-= 1
        if count > 0 {
            let last = buf[count]
            var i = 0
            while true {
                let l = 2 &* i &+ 1
                if l >= count { break }
                var c = l
                let r = l &+ 1
                if r < count && buf[r].score > buf[l].score { c = r }
                if buf[c].score <= last.score { break }
                buf[i] = buf[c]
                i = c
            }
            buf[i] = last
        }
        return result
    }

    @inlinable mutating func removeAll() { count = 0 }

    /// The contents sorted by ascending score (the heap is emptied).
    @inlinable mutating func drainAscending() -> [Candidate] {
        var out = [Candidate](repeating: Candidate(0, 0), count: count)
        var i = count
        while count > 0 {
            i -= 1
            out[i] = pop()
        }
        return out
    }
}

/// A bitset over slots, allocated per traversal (n/8 bytes, zeroed).
@usableFromInline
struct VisitedSet: ~Copyable {
    @usableFromInline let words: UnsafeMutablePointer<UInt64>

    @usableFromInline let n: Int

    @inlinable init(count: Int) {
        n = max((count &+ 63) >> 6, 1)
        words = .allocate(capacity: n)
        words.initialize(repeating: 0, count: n)
    }

    deinit { words.deallocate() }

    /// Marks `slot`; returns true when it was not marked before.
    @inlinable @inline(__always) func insert(_ slot: UInt32) -> Bool {
        let w = Int(slot >> 6), bit = UInt64(1) << UInt64(slot & 63)
        let old = words[w]
        if old & bit != 0 { return false }
        words[w] = old | bit
        return true
    }
}

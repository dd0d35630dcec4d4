extension HNSWIndex {
    /// Tombstones `id`: the node stays in the graph (traversed, never returned) until the next consolidation,
    /// which runs automatically once tombstones exceed `consolidationThreshold`.
    @discardableResult
    public mutating func remove(_ id: UInt64) -> Bool {
        guard let s = slotOf[id] else { return false }
        mutationCount &+= 1
        tombstone(id, s)
        if consolidatesAutomatically && consolidationDue { consolidate() }
        return true
    }

    /// Whether tombstones have reached `consolidationThreshold`.
    public var consolidationDue: Bool { tombstones >= consolidationThreshold }

    /// Tombstones that trigger `consolidate()`: 10% of the slots, at least 32.
    public var consolidationThreshold: Int { max(32, ids.count / 10) }

    /// Delete consolidation (as FreshDiskANN): every live node that links to a tombstone keeps its live links and
    /// fills the freed places with the tombstones' live neighbours, chosen nearest first under the same diversity
    /// rule as the insert heuristic. Afterwards no node links to a tombstone; tombstoned slots become free slots
    /// that later inserts reuse. O(slots · 2m) scan plus distance work for the affected nodes.
    public mutating func consolidate() {
        guard tombstones > 0 else { return }
        mutationCount &+= 1
        let n = ids.count
        var orphans: [UInt32] = []
        if maxLevel >= 0 {
            for level in 0...maxLevel {
                let maxConn = level == 0 ? maxM0 : m
                for p32 in 0..<UInt32(n) {
                    let p = Int(p32)
                    if states[p] != .live || Int(levels[p]) < level { continue }
                    let list = neighbors(p32, level)
                    var hasDead = false
                    for x in list where states[Int(x)] != .live { hasDead = true; break }
                    if !hasDead { continue }
                    var kept: [Candidate] = []
                    kept.reserveCapacity(maxConn)
                    var extra = Set<UInt32>()
                    for x in list {
                        if states[Int(x)] == .live {
                            kept.append(Candidate(pairScore(p32, x), x))
                        }
                    }
                    for x in list where states[Int(x)] != .live {
                        for y in neighbors(x, level) where y != p32 && states[Int(y)] == .live {
                            extra.insert(y)
                        }
                    }
                    for x in kept { extra.remove(x.slot) }
                    var scored = extra.map { Candidate(pairScore(p32, $0), $0) }
                    scored.sort { $0.score < $1.score || ($0.score == $1.score && $0.slot < $1.slot) }
                    for c in scored {
                        if kept.count >= maxConn { break }
                        var good = true
                        for r in kept where pairScore(r.slot, c.slot) < c.score {
                            good = false
                            break
                        }
                        if good { kept.append(c) }
                    }
                    setNeighbors(p32, level, kept.map(\.slot))
                    if kept.isEmpty && level == 0 { orphans.append(p32) }
                }
            }
        }
        // free the tombstoned slots (unlinked now); pick a live entry point if needed
        for s in 0..<n where states[s] == .tombstone {
            states[s] = .free
            for l in 0...Int(levels[s]) { setNeighbors(UInt32(s), l, []) }
            freeSlots.append(UInt32(s))
        }
        tombstones = 0
        if entryPoint != HNSWIndex.none && states[Int(entryPoint)] != .live {
            entryPoint = HNSWIndex.none
            maxLevel = -1
            for s in 0..<n where states[s] == .live && Int(levels[s]) > maxLevel {
                entryPoint = UInt32(s)
                maxLevel = Int(levels[s])
            }
        }
        // reuse low slots first (keeps the arrays dense at the front)
        freeSlots.sort(by: >)
        // a live node that lost every level-0 link is inserted again so it stays reachable
        for o in orphans where o != entryPoint { relink(o) }
        repairUnreachable()
    }

    /// Clears a live node's links on every level and inserts it again at its level (same slot, same vector).
    mutating func relink(_ slot: UInt32) {
        for l in 0...Int(levels[Int(slot)]) { setNeighbors(slot, l, []) }
        let v = Array(UnsafeBufferPointer(start: vectors.row(Int(slot)), count: dimension))
        let inv: Float = metric == .cosine ? invNorms[Int(slot)] : 1
        v.withUnsafeBufferPointer { insertNode(slot, level: Int(levels[Int(slot)]), q: $0.baseAddress!, inv: inv) }
    }

    /// Re-links every live node that level 0 cannot reach from the entry point (no search can find it): its links
    /// are cleared and it is inserted again, which always leaves it an in-link from a reachable node. Such nodes
    /// come from neighbours' later pruning or from consolidation. O(slots · 2m) per pass, up to 4 passes.
    /// Returns how many nodes were re-linked.
    @discardableResult
    public mutating func repairUnreachable() -> Int {
        let n = ids.count
        guard n > 1, entryPoint != HNSWIndex.none else { return 0 }
        var repaired = 0
        // A re-insert can displace another node's last in-link, so repeat (a few passes reach a fixed point).
        for _ in 0..<4 {
            // Reachable on level 0 from the entry point (through tombstones too: searches walk them).
            var linked = [Bool](repeating: false, count: n)
            var stack: [Int] = [Int(entryPoint)]
            linked[Int(entryPoint)] = true
            while let p = stack.popLast() {
                let off = p * stride0
                for i in 0..<Int(links0[off]) {
                    let q = Int(links0[off + 1 + i])
                    if !linked[q] && states[q] != .free {
                        linked[q] = true
                        stack.append(q)
                    }
                }
            }
            var pass = 0
            for o in 0..<n where states[o] == .live && !linked[o] && UInt32(o) != entryPoint {
                relink(UInt32(o))
                pass += 1
            }
            // The entry point is where searches start on the top level, but level 0 is searched from wherever the
            // descent ends: it needs an in-link on level 0 too.
            var entryLinked = false
            for p in 0..<n where states[p] != .free && p != Int(entryPoint) {
                let off = p * stride0
                for i in 0..<Int(links0[off]) where links0[off + 1 + i] == entryPoint { entryLinked = true; break }
                if entryLinked { break }
            }
            if !entryLinked, let nearest = neighbors(entryPoint, 0).first {
                var list = neighbors(nearest, 0)
                if list.count < maxM0 { list.append(entryPoint) } else { list[list.count - 1] = entryPoint }
                setNeighbors(nearest, 0, list)
                pass += 1
            }
            repaired += pass
            if pass == 0 { break }
        }
        return repaired
    }
}

extension HNSWIndex {
    // MARK: - upsert

    /// Inserts `id`, or replaces its vector (tombstone the old node, insert the new vector as a new node); the same
    /// vector again is a no-op. The plan applied at once, except that a replacement whose tombstone triggers
    /// consolidation removes (and consolidates) first.
    public mutating func upsert(id: UInt64, vector: UnsafeBufferPointer<Float>) {
        if let plan = planUpsert(id: id, vector: vector) {
            apply(plan.payload as! Plan, id: id, vector: vector)
            return
        }
        remove(id)
        apply(planUpsert(id: id, vector: vector)!.payload as! Plan, id: id, vector: vector)
    }

    // MARK: - two-phase upsert (plan read-only, apply writes)

    /// What `applyUpsert` writes; everything that needs distances was computed by `planUpsert`.
    final class Plan: Sendable {
        /// The graph the plan was made against (cheap identity: apply falls back to `upsert` when it differs).
        let stamp: Stamp
        let id: UInt64
        let place: Placement
        /// `rngState` after drawing the level of an appended slot.
        let rngAfter: UInt64
        let writes: LinkWrites

        init(stamp: Stamp, id: UInt64, place: Placement, rngAfter: UInt64, writes: LinkWrites) {
            self.stamp = stamp
            self.id = id
            self.place = place
            self.rngAfter = rngAfter
            self.writes = writes
        }
    }

    /// Where an upsert goes: nowhere (same id, same vector), or a new node in `slot` at `level`, replacing the
    /// node in `replaced` (or `HNSWIndex.none`).
    struct Placement: Sendable {
        /// Same id, bit-identical vector: nothing to do.
        let unchanged: Bool
        /// Slot of the replaced node (tombstoned by apply), or `HNSWIndex.none`.
        let replaced: UInt32
        /// Slot of the new node: a free slot (`reuse`) or `ids.count` plus the slots appended before it.
        let slot: UInt32
        let reuse: Bool
        let level: Int
        let inv: Float
    }

    /// The placement of upserting `id` with `vector` when `freeTaken` free slots and `appended` new slots are
    /// already handed out (by earlier records of a batch): the next free slot from the end of `freeSlots`, keeping
    /// its level, else a new slot at the end with a level drawn from `rng`.
    func place(_ id: UInt64, _ vector: UnsafeBufferPointer<Float>, freeTaken: Int, appended: Int,
               rng: inout UInt64) -> Placement {
        let inv = checkedInverseNorm(vector)
        var replaced = HNSWIndex.none
        if let s = slotOf[id] {
            if stores(vector, in: s) {
                return Placement(unchanged: true, replaced: HNSWIndex.none, slot: s, reuse: false, level: 0, inv: inv)
            }
            replaced = s
        }
        if freeTaken < freeSlots.count {
            let f = freeSlots[freeSlots.count - 1 - freeTaken]
            return Placement(unchanged: false, replaced: replaced, slot: f, reuse: true, level: Int(levels[Int(f)]),
                             inv: inv)
        }
        precondition(ids.count + appended < Int(UInt32.max - 1), "HNSWIndex is limited to 2^32 - 2 slots")
        return Placement(unchanged: false, replaced: replaced, slot: UInt32(ids.count + appended), reuse: false,
                         level: HNSWIndex.randomLevel(m: m, &rng), inv: inv)
    }

    /// Identifies the graph state a plan was computed against. `mutationCount` alone would not tell apart two
    /// copies of one index mutated differently the same number of times; the other fields make that unlikely.
    struct Stamp: Equatable {
        let mutations: UInt64
        let slots: Int
        let live: Int
        let free: Int
        let tombstones: Int
        let rng: UInt64
        let entry: UInt32
    }

    var stamp: Stamp {
        Stamp(mutations: mutationCount, slots: ids.count, live: slotOf.count, free: freeSlots.count,
              tombstones: tombstones, rng: rngState, entry: entryPoint)
    }

    public var plansUpserts: Bool { true }

    /// Read-only: runs all the distance work of `upsert(id:vector:)` (slot and level choice, the layer searches,
    /// neighbour selection, the new link lists of every neighbour it changes, pruned by the heuristic when full).
    /// Safe to run concurrently with `search` on the same value.
    ///
    /// Returns nil when the upsert must run whole in the write phase: replacing an id whose tombstone would
    /// trigger consolidation.
    public func planUpsert(id: UInt64, vector: UnsafeBufferPointer<Float>) -> UpsertPlan? {
        var rng = rngState
        let p = place(id, vector, freeTaken: 0, appended: 0, rng: &rng)
        if consolidatesAutomatically && p.replaced != HNSWIndex.none && tombstones + 1 >= consolidationThreshold { return nil }
        let writes = p.unchanged
            ? LinkWrites()
            : planLinks(newNode(slot: p.slot, q: vector.baseAddress!, inv: p.inv), level: p.level, dead: p.replaced)
        return UpsertPlan(Plan(stamp: stamp, id: id, place: p, rngAfter: p.unchanged ? rngState : rng, writes: writes))
    }

    /// Writes what `planUpsert` computed: the result is identical (down to the serialized bytes) to
    /// `upsert(id:vector:)` on the value the plan was made against. Precondition: `vector` is the one planned,
    /// and this value has not changed since the plan (the engine guarantees both by holding its writer lock from
    /// plan to apply). A plan for another state (detected by its stamp) or of another kind falls back to `upsert`.
    public mutating func applyUpsert(_ plan: UpsertPlan, id: UInt64, vector: UnsafeBufferPointer<Float>) {
        guard let p = plan.payload as? Plan, p.id == id, p.stamp == stamp, vector.count == dimension,
              p.place.unchanged || p.place.replaced == (slotOf[id] ?? HNSWIndex.none),
              p.place.unchanged || (p.place.reuse ? freeSlots.last == p.place.slot : Int(p.place.slot) == ids.count)
        else {
            upsert(id: id, vector: vector)
            return
        }
        apply(p, id: id, vector: vector)
    }

    /// `applyUpsert` once the plan is known to fit this value.
    mutating func apply(_ plan: Plan, id: UInt64, vector: UnsafeBufferPointer<Float>) {
        let p = plan.place
        if p.unchanged { return }
        mutationCount &+= 1
        if p.replaced != HNSWIndex.none {
            // remove(id) without consolidation (the plan is nil when the tombstone would trigger one)
            tombstone(id, p.replaced)
        }
        if !p.reuse { rngState = plan.rngAfter }
        claimSlot(p, id: id, vector: vector)
        applyLinks(plan.writes)
        raiseEntryPoint(p.slot, level: p.level)
    }

    /// 1/‖v‖ under cosine (precondition: not zero), else 1; checks the dimension.
    func checkedInverseNorm(_ vector: UnsafeBufferPointer<Float>) -> Float {
        precondition(vector.count == dimension, "dimension mismatch")
        guard metric == .cosine else { return 1 }
        let inv = Distance.inverseNorm(vector.baseAddress!, dimension)
        precondition(inv > 0, "zero vector under cosine")
        return inv
    }

    /// Whether slot `s` holds exactly `vector` (bit for bit).
    func stores(_ vector: UnsafeBufferPointer<Float>, in s: UInt32) -> Bool {
        let stored = vectors.row(Int(s))
        for i in 0..<dimension where stored[i].bitPattern != vector[i].bitPattern { return false }
        return true
    }

    /// Makes `s` a live node holding `id` and `vector` with empty links: a reused free slot (the last of
    /// `freeSlots`, which keeps its level) or a new slot appended at `level`.
    mutating func claimSlot(_ p: Placement, id: UInt64, vector: UnsafeBufferPointer<Float>) {
        let s = p.slot, level = p.level
        if p.reuse {
            precondition(freeSlots.last == s, "free slots are reused from the end")
            freeSlots.removeLast()
            ids[Int(s)] = id
            states[Int(s)] = .live
            writeVector(s, vector, p.inv)
        } else {
            precondition(Int(s) == ids.count, "new slots are appended")
            ids.append(id)
            levels.append(UInt8(level))
            states.append(.live)
            vectors.append(vector.baseAddress!)
            if metric == .cosine { invNorms.append(p.inv) }
            links0.append(contentsOf: repeatElement(0, count: stride0))
            if level > 0 {
                upperStart.append(UInt32(upperLinks.count))
                upperLinks.append(contentsOf: repeatElement(0, count: level * strideUp))
            } else {
                upperStart.append(0)
            }
        }
        slotOf[id] = s
        codeSlot(s)
    }

    /// Tombstones the node of `id` in slot `s`, without consolidation.
    mutating func tombstone(_ id: UInt64, _ s: UInt32) {
        slotOf.removeValue(forKey: id)
        states[Int(s)] = .tombstone
        tombstones += 1
    }

    /// Makes `s` the entry point when the graph has none or `level` is above the top level.
    mutating func raiseEntryPoint(_ s: UInt32, level: Int) {
        if entryPoint == HNSWIndex.none || level > maxLevel {
            entryPoint = s
            maxLevel = level
        }
    }

    mutating func writeVector(_ s: UInt32, _ vector: UnsafeBufferPointer<Float>, _ inv: Float) {
        vectors.setRow(Int(s), from: vector.baseAddress!)
        if metric == .cosine { invNorms[Int(s)] = inv }
    }

    /// hnswlib addPoint for a slot whose vector, id and (empty) link blocks are in place.
    mutating func insertNode(_ s: UInt32, level: Int, q: UnsafePointer<Float>, inv: Float) {
        let writes = planLinks(newNode(slot: s, q: q, inv: inv), level: level, dead: HNSWIndex.none)
        applyLinks(writes)
        raiseEntryPoint(s, level: level)
    }

    /// The node being inserted: its slot and its vector, which need not be stored yet (the plan phase reads the
    /// vector from the caller; a reused slot still holds the old vector, an appended slot does not exist yet).
    /// With `codeQuery` and `pairs` (`newNode` gives them when the graph links on the codes), the layer searches
    /// and the neighbour choices score on the codes and never read a stored vector.
    struct NewNode {
        let slot: UInt32
        let q: UnsafePointer<Float>
        let inv: Float
        var codeQuery: CodeQuery? = nil
        var pairs: CodePairs? = nil
    }

    /// Link lists to write, in order: entry `i` sets the list of `slots[i]` at `levels[i]` to
    /// `flat[ends[i - 1]..<ends[i]]`.
    struct LinkWrites {
        var slots: [UInt32] = []
        var levels: [Int] = []
        var ends: [Int] = []
        var flat: [UInt32] = []

        var count: Int { slots.count }

        mutating func add(_ slot: UInt32, _ level: Int, _ list: some Sequence<UInt32>) {
            slots.append(slot)
            levels.append(level)
            flat.append(contentsOf: list)
            ends.append(flat.count)
        }

        func list(_ i: Int) -> ArraySlice<UInt32> { flat[(i == 0 ? 0 : ends[i - 1])..<ends[i]] }
    }

    mutating func applyLinks(_ writes: LinkWrites) {
        for i in 0..<writes.count { setNeighbors(writes.slots[i], writes.levels[i], writes.list(i)) }
    }

    /// Read-only half of hnswlib's addPoint: every link list that inserting `x` at `level` changes, computed
    /// against the current graph (with `dead` seen as tombstoned), in the order addPoint writes them. Applying
    /// them (then setting the entry point when `level > maxLevel` or the graph is empty) is the whole insert.
    ///
    /// This equals the step-by-step addPoint because one level's writes never affect a later step: the search on
    /// level l reads only level-l lists, and the writes of level l (the new node's list, then each selected
    /// neighbour's list) touch level-l lists of distinct nodes; the one overlap (a neighbour that is the node
    /// itself, possible only when consolidation re-inserts a node that others still link to) reads the list
    /// written just before, as addPoint does.
    func planLinks(_ x: NewNode, level: Int, dead: UInt32) -> LinkWrites {
        var writes = LinkWrites()
        for c in planConnections(x, level: level, dead: dead) {
            writes.add(x.slot, c.level, c.selected.lazy.map(\.slot))
            for (n, list) in zip(c.selected, c.lists) { writes.add(n.slot, c.level, list) }
            if let kept = keepInLink(x.slot, c) { writes.add(kept.slot, c.level, kept.list) }
        }
        return writes
    }

    /// One level of hnswlib's mutuallyConnectNewElement, computed read-only: the new node's neighbours (ascending by
    /// score to it) and the new list of each of them.
    struct Connection: Sendable {
        let level: Int
        let selected: [Candidate]
        /// `lists[k]`: the list of `selected[k]` with the new node linked in (`linkedList`).
        let lists: [[UInt32]]
    }

    /// The layer searches and neighbour choices of inserting `x` at `level`, from the top level the node shares
    /// with the graph down to 0 (a level where the search finds nothing is left out).
    func planConnections(_ x: NewNode, level: Int, dead: UInt32) -> [Connection] {
        guard entryPoint != HNSWIndex.none else { return [] }
        var cur = entryPoint
        if level < maxLevel { cur = descend(x, from: maxLevel, downTo: level) }
        let epDeleted = states[Int(entryPoint)] != .live || entryPoint == dead
        var connections: [Connection] = []
        for lev in stride(from: min(level, maxLevel), through: 0, by: -1) {
            var found = constructionSearch(x, entry: cur, level: lev, dead: dead)
            if epDeleted {
                // keep the graph reachable through a tombstoned entry point (as hnswlib does)
                let d = withView { g in traverse(ScoreOne(slot: entryPoint), g, x.q, x.inv, x.codeQuery) }
                found.append(Candidate(d, entryPoint))
                found.sort { $0.score < $1.score }
                if found.count > efConstruction { found.removeLast() }
            }
            if found.isEmpty { continue }
            let c = connect(x, found, level: lev)
            connections.append(c)
            cur = c.selected[0].slot
        }
        return connections
    }

    /// mutuallyConnectNewElement without the writes. `found` ascending by score to `x`.
    func connect(_ x: NewNode, _ found: [Candidate], level: Int) -> Connection {
        let selected = heuristic(found, limit: m, x)
        let selectedSlots = selected.map(\.slot)
        let lists = selected.map { c in
            linkedList(c.slot, to: x, score: c.score, level: level,
                       current: c.slot == x.slot ? selectedSlots : neighbors(c.slot, level))
        }
        return Connection(level: level, selected: selected, lists: lists)
    }

    /// The list of `n` (now `current`) once it links to `x` (at `score` from it): `x` appended when there is room,
    /// else the list re-chosen by the heuristic among its entries and `x`.
    func linkedList(_ n: UInt32, to x: NewNode, score: Float, level: Int, current: [UInt32]) -> [UInt32] {
        let maxConn = level == 0 ? maxM0 : m
        if current.count < maxConn { return current + [x.slot] }
        var cands = [Candidate(score, x.slot)]
        cands.reserveCapacity(current.count + 1)
        for j in current { cands.append(Candidate(pairScore(n, j, x), j)) }
        cands.sort { $0.score < $1.score }
        return heuristic(cands, limit: maxConn, x).map(\.slot)
    }

    /// Departure from hnswlib: when every neighbour's pruning dropped the back-link, the new node would have no
    /// in-link on level 0 and no search could ever reach it (seen with outliers under churn). Keep one link to it:
    /// in the nearest neighbour whose pruned list has a free place, else instead of the farthest entry of the
    /// nearest neighbour's list. Returns that extra write (nil on levels above 0 or when a neighbour kept `s`).
    func keepInLink(_ s: UInt32, _ c: Connection) -> (slot: UInt32, list: [UInt32])? {
        guard c.level == 0, !c.lists.contains(where: { $0.contains(s) }), let nearest = c.lists.first else { return nil }
        if let k = c.lists.firstIndex(where: { $0.count < maxM0 }) { return (c.selected[k].slot, c.lists[k] + [s]) }
        var list = nearest
        list[list.count - 1] = s
        return (c.selected[0].slot, list)
    }

    /// getNeighborsByHeuristic2: from `cands` (ascending by score to the base point) keep a candidate only when it
    /// is closer to the base point than to every already kept one; at most `limit`. Unchanged if count < limit.
    func heuristic(_ cands: [Candidate], limit: Int, _ x: NewNode) -> [Candidate] {
        if cands.count < limit { return cands }
        var kept: [Candidate] = []
        kept.reserveCapacity(limit)
        for c in cands {
            if kept.count >= limit { break }
            var good = true
            for r in kept where pairScore(r.slot, c.slot, x) < c.score {
                good = false
                break
            }
            if good { kept.append(c) }
        }
        return kept
    }

    /// `pairScore(a, b)` where the new node's slot reads the new node's vector and inverse norm (same operand
    /// order as `pairScore`, so the value is bit-identical to the one computed after the vector is stored).
    @inline(__always)
    func pairScore(_ a: UInt32, _ b: UInt32, _ x: NewNode) -> Float {
        if let pairs = x.pairs { return pairs.score(a, b) }
        if a != x.slot && b != x.slot { return pairScore(a, b) }
        let dim = dimension
        let pa = a == x.slot ? x.q : vectors.row(Int(a))
        let pb = b == x.slot ? x.q : vectors.row(Int(b))
        switch metric {
        case .l2: return Distance.l2Squared(pa, pb, dim)
        case .cosine:
            let ia = a == x.slot ? x.inv : invNorms[Int(a)]
            let ib = b == x.slot ? x.inv : invNorms[Int(b)]
            return 1 - Distance.dot(pa, pb, dim) * ia * ib
        case .dot: return -Distance.dot(pa, pb, dim)
        }
    }
}

/// Parallel graph construction: a batch of upserts is planned on several threads against one frozen graph
/// (`planBatch`, read-only), then applied in batch order on one thread (`applyBatch`).
///
/// Each member's plan is `planUpsert`'s (descent, layer searches, neighbour choice, each neighbour's new list), so
/// it does not see the members before it. The apply makes up for that:
/// - siblings: on each level, a member measures its distance to the members applied before it (B − 1 distances at
///   most) and, when one would be closer than its farthest planned neighbour (or it has fewer than m), re-chooses
///   its neighbours by the heuristic over the planned ones and those siblings;
/// - merges: a neighbour's new list computed by the plan is written only when no earlier member of the batch
///   changed that list since; otherwise the new node is linked into the list as it is now (appended, or the list
///   re-chosen by the heuristic), which is also what happens for a sibling chosen in the apply.
/// So the apply costs the writes plus a few distances per member, and the graph is the one sequential inserts
/// would build up to the searches not seeing the batch's own members (recall measured in HNSWParallelBuildTests).
///
/// Slots and levels are handed out at plan time in batch order, as sequential upserts would: free slots from the
/// end of `freeSlots`, then appended slots with levels drawn in turn. The same batch on the same value gives the
/// same bytes. Replacements tombstone the old node (each member's plan sees its own old node as removed; the
/// apply drops the batch's replaced nodes from the planned neighbour lists); consolidation, if the tombstones reach
/// `consolidationThreshold`, runs once after the batch.
public struct HNSWBatchPlan: Sendable {
    let stamp: HNSWIndex.Stamp
    let ids: [UInt64]
    let members: [HNSWIndex.BatchMember]
    /// `rngState` after the levels of the appended slots.
    let rngAfter: UInt64
}

extension HNSWIndex {
    /// One record of a batch plan.
    struct BatchMember: Sendable {
        let place: Placement
        /// Planned against the frozen graph, top level first.
        let connections: [Connection]
    }

    /// Read-only (like planUpsert): plans upserting all `ids.count` records against this value, spreading the
    /// distance work over the caller's parallel-for (`parallel(n, body)` runs body(0..<n) on several threads and
    /// returns when all are done). `ids[i]`'s vector is `vectors[i*dimension ..< (i+1)*dimension]`. Ids are
    /// distinct within one batch. Safe to run concurrently with `search` on the same value.
    public func planBatch(ids batchIDs: [UInt64], vectors: UnsafeBufferPointer<Float>,
                          parallel: (Int, (Int) -> Void) -> Void) -> HNSWBatchPlan {
        let n = batchIDs.count
        precondition(vectors.count == n * dimension, "dimension mismatch")
        precondition(Set(batchIDs).count == n, "ids must be distinct within a batch")
        guard n > 0 else { return HNSWBatchPlan(stamp: stamp, ids: [], members: [], rngAfter: rngState) }
        // Slots and levels, in batch order.
        var rng = rngState
        var freeTaken = 0, appended = 0
        let places = (0..<n).map { i in
            let p = place(batchIDs[i], HNSWIndex.row(vectors, i, dimension), freeTaken: freeTaken, appended: appended,
                          rng: &rng)
            if !p.unchanged { if p.reuse { freeTaken += 1 } else { appended += 1 } }
            return p
        }
        // The searches, in parallel, each against this (unchanged) value.
        let planned = UnsafeMutableBufferPointer<[Connection]>.allocate(capacity: n)
        planned.initialize(repeating: [])
        defer { planned.deinitialize().deallocate() }
        parallel(n) { i in
            let p = places[i]
            if p.unchanged { return }
            let x = newNode(slot: p.slot, q: vectors.baseAddress! + i * dimension, inv: p.inv)
            planned[i] = planConnections(x, level: p.level, dead: p.replaced)
        }
        let members = (0..<n).map { BatchMember(place: places[$0], connections: planned[$0]) }
        return HNSWBatchPlan(stamp: stamp, ids: batchIDs, members: members, rngAfter: rng)
    }

    /// Applies a plan made by planBatch against this value, unchanged since: afterwards every record is upserted
    /// (inserted, or its old vector replaced). Array writes and a few distances per record (see the file header);
    /// needs exclusive access. Precondition: `vectors` are the ones planned (as for `applyUpsert`). Falls back to
    /// plain upserts, in batch order, when the value changed since the plan or `ids` are not the planned ones.
    public mutating func applyBatch(_ plan: HNSWBatchPlan, ids batchIDs: [UInt64], vectors: UnsafeBufferPointer<Float>) {
        precondition(vectors.count == batchIDs.count * dimension, "dimension mismatch")
        guard plan.stamp == stamp, plan.ids == batchIDs else {
            for i in 0..<batchIDs.count { upsert(id: batchIDs[i], vector: HNSWIndex.row(vectors, i, dimension)) }
            return
        }
        mutationCount &+= 1
        let members = plan.members
        // Tombstones and slots first: every vector is in place before any distance of the apply.
        var replacedInBatch = Set<UInt32>()
        for (i, member) in members.enumerated() where !member.place.unchanged {
            let p = member.place
            if p.replaced != HNSWIndex.none {
                tombstone(batchIDs[i], p.replaced)
                replacedInBatch.insert(p.replaced)
            }
            claimSlot(p, id: batchIDs[i], vector: HNSWIndex.row(vectors, i, dimension))
        }
        rngState = plan.rngAfter
        // Links, in batch order.
        var changed = Set<UInt64>()  // (slot, level) lists written by this apply
        @inline(__always) func key(_ s: UInt32, _ level: Int) -> UInt64 { UInt64(s) << 8 | UInt64(level) }
        var applied: [UInt32] = []
        for (i, member) in members.enumerated() where !member.place.unchanged {
            let p = member.place
            let x = newNode(slot: p.slot, q: vectors.baseAddress! + i * dimension, inv: p.inv)
            if maxLevel >= 0 {
                for lev in stride(from: min(p.level, maxLevel), through: 0, by: -1) {
                    let planned = member.connections.first { $0.level == lev }
                    var selected = planned?.selected ?? []
                    if !replacedInBatch.isEmpty { selected.removeAll { replacedInBatch.contains($0.slot) } }
                    let worst = selected.count < m ? Float.infinity : selected[selected.count - 1].score
                    var closer: [Candidate] = []
                    for sib in applied where Int(levels[Int(sib)]) >= lev {
                        let d = pairScore(x.slot, sib, x)
                        if d < worst { closer.append(Candidate(d, sib)) }
                    }
                    if !closer.isEmpty {
                        selected += closer
                        selected.sort { $0.score < $1.score || ($0.score == $1.score && $0.slot < $1.slot) }
                        selected = heuristic(selected, limit: m, x)
                    }
                    if selected.isEmpty { continue }
                    setNeighbors(x.slot, lev, selected.map(\.slot))
                    changed.insert(key(x.slot, lev))
                    var lists: [[UInt32]] = []
                    lists.reserveCapacity(selected.count)
                    for c in selected {
                        let list: [UInt32]
                        if !changed.contains(key(c.slot, lev)),
                           let k = planned?.selected.firstIndex(where: { $0.slot == c.slot }) {
                            list = planned!.lists[k]
                        } else {
                            list = linkedList(c.slot, to: x, score: c.score, level: lev, current: neighbors(c.slot, lev))
                        }
                        setNeighbors(c.slot, lev, list)
                        changed.insert(key(c.slot, lev))
                        lists.append(list)
                    }
                    if let kept = keepInLink(x.slot, Connection(level: lev, selected: selected, lists: lists)) {
                        setNeighbors(kept.slot, lev, kept.list)
                        changed.insert(key(kept.slot, lev))
                    }
                }
            }
            raiseEntryPoint(x.slot, level: p.level)
            applied.append(x.slot)
        }
        if consolidatesAutomatically && consolidationDue { consolidate() }
    }

    /// Convenience: upserts all records in batches of `batchSize` via planBatch/applyBatch (used by lynx-bench
    /// --threads); ids must be distinct within each batch. While the graph is small a batch is at most 1/8 of its
    /// live count (so the members' searches miss few of the nodes around them).
    public mutating func insertParallel(ids batchIDs: [UInt64], vectors: UnsafeBufferPointer<Float>, batchSize: Int,
                                        parallel: (Int, (Int) -> Void) -> Void) {
        precondition(batchSize >= 1, "batchSize must be positive")
        precondition(vectors.count == batchIDs.count * dimension, "dimension mismatch")
        var start = 0
        while start < batchIDs.count {
            let end = min(batchIDs.count, start + max(1, min(batchSize, count / 8)))
            let ids = Array(batchIDs[start..<end])
            let v = UnsafeBufferPointer(rebasing: vectors[(start * dimension)..<(end * dimension)])
            applyBatch(planBatch(ids: ids, vectors: v, parallel: parallel), ids: ids, vectors: v)
            start = end
        }
    }

    @inline(__always)
    static func row(_ vectors: UnsafeBufferPointer<Float>, _ i: Int, _ dimension: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: vectors[(i * dimension)..<((i + 1) * dimension)])
    }
}

extension HNSWIndex {
    /// `VectorIndex`'s batch planning: `planBatch` behind the protocol's opaque plan.
    public func planUpserts(ids: [UInt64], vectors: UnsafeBufferPointer<Float>,
                            parallel: (Int, (Int) -> Void) -> Void) -> UpsertPlan? {
        UpsertPlan(planBatch(ids: ids, vectors: vectors, parallel: parallel))
    }

    public mutating func applyUpserts(_ plan: UpsertPlan, ids: [UInt64], vectors: UnsafeBufferPointer<Float>) {
        if let batch = plan.payload as? HNSWBatchPlan {
            applyBatch(batch, ids: ids, vectors: vectors)
        } else {
            for i in 0..<ids.count { upsert(id: ids[i], vector: HNSWIndex.row(vectors, i, dimension)) }
        }
    }
}

extension HNSWIndex {
    /// `VectorIndex`'s housekeeping is consolidation.
    public var housekeepsAutomatically: Bool {
        get { consolidatesAutomatically }
        set { consolidatesAutomatically = newValue }
    }

    public var housekeepingDue: Bool { consolidationDue }

    public mutating func performHousekeeping() { consolidate() }
}

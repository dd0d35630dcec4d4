import LynxIndex
import LynxSupport

#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Pauses or resumes the background linking (for tests and maintenance): while paused, writes still go into
    /// the pending tail (up to its bound), searchable exactly. No effect where the index is not linked in the background.
    public func setLinkingPaused(_ paused: Bool) {
        builder?.setPaused(paused)
    }

    /// Records pending and linked so far, read together (their sum moves only with new writes).
    public func linkingReport() -> LinkingReport {
        stateLock.read { linkingState }
    }

    /// The linking report; the caller holds `stateLock`. `linked` moves under the write lock, so it agrees with
    /// `pending`. Housekeeping runs on a copy that is swapped in at its end, so `housekeepingDue` stays true
    /// until the consolidated graph is the one searches use.
    var linkingState: LinkingReport {
        let pending = state.pendingCount
        return LinkingReport(pending: pending, linked: metrics.linked.current,
                             behind: pending > 0 || (linksInBackground && state.index.housekeepingDue))
    }

    /// Waits until the builder has nothing left to do, at most `seconds`: nothing pending and no housekeeping due
    /// (the builder consolidates right after the step that settles the last pending operation). True when so.
    @discardableResult
    public func waitUntilLinked(seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while stateLock.read({ linkingState.behind }) {
            if monotonicSeconds() > deadline { return false }
            usleep(2000)
        }
        return true
    }

    /// One step of the builder: links up to `limit` of the oldest pending operations (all upserts, or all deletes)
    /// into the index and settles them in the tail. Returns how many operations it took (0: nothing was pending).
    ///
    /// The distance work (the plan) runs on a copy of the index taken under the read lock and released before the
    /// apply, so neither searches nor writers wait for it: only this thread (holding `linkLock`) mutates the
    /// index, so the copy equals the index until the apply. The plan of a batch is spread over `pool`. The apply
    /// and the settling happen under one write lock, so a reader sees each record either pending or linked,
    /// never both or neither. While a rebuild holds `linkLock` the step is skipped (0): the builder thread serves
    /// other engines meanwhile and comes back at its next look.
    func linkPending(limit: Int, pool: ParallelPool) -> Int {
        linkLock.withLockIfFree { _ in
            let (work, queueEnd): ([(op: PendingTail.Operation, vector: [Float]?)], Int) = stateLock.read {
                guard let tail = state.tail else { return ([], 0) }
                // While the graph is small a batch is at most an eighth of it: its members' plans do not see each
                // other, and in a small graph they would miss too much of their neighbourhood.
                let next = tail.nextOperations(limit: max(1, min(limit, state.index.count / 8)))
                return (next.operations.map { ($0, tail.vector(of: $0)) }, next.end)
            }
            if work.isEmpty {
                if queueEnd > 0 { stateLock.write { state.settle([], queueEnd: queueEnd) { _ in } } }
                return 0
            }
            let started = monotonicSeconds()
            let ids = work.map(\.op.id)
            let isUpsert = work[0].vector != nil
            let vectors: [Float] = isUpsert ? Array(work.lazy.flatMap { $0.vector! }) : []
            let plan = isUpsert ? planLinks(ids: ids, vectors: vectors, pool: pool) : nil
            stateLock.write {
                state.settle(work.map(\.op), queueEnd: queueEnd) { index in
                    if !isUpsert {
                        for id in ids { index.remove(id) }
                    } else {
                        vectors.withUnsafeBufferPointer { v in
                            if let plan {
                                index.applyUpserts(plan, ids: ids, vectors: v)
                            } else {
                                for (i, id) in ids.enumerated() {
                                    index.upsert(id: id, vector: UnsafeBufferPointer(rebasing: v[(i * dimension)..<((i + 1) * dimension)]))
                                }
                            }
                        }
                    }
                }
                // Counted under the write lock, so a reader that takes pending and linked together sees them agree.
                metrics.linked.add(UInt64(work.count))
            }
            metrics.linkDuration.observe(monotonicSeconds() - started)
            houseKeepIfDue()
            services.heapRelease.noteWork()
            return work.count
        } ?? 0
    }

    /// Runs the index's housekeeping (HNSW: consolidation of tombstones) when it is due, on a copy and outside the
    /// state's locks, then swaps the result in: searches and writers go on meanwhile (against the old graph, which
    /// is equivalent). Valid because the caller holds `linkLock`: nothing else changes the index in between.
    /// The copy-on-write copy costs the graph's link arrays once more in memory while it runs.
    private func houseKeepIfDue() {
        guard var index: any VectorIndex = stateLock.read({ state.index.housekeepingDue ? state.index : nil }) else { return }
        let started = monotonicSeconds()
        index.performHousekeeping()
        stateLock.write { state.index = index }
        logger.debug("index housekeeping done off the write path", metadata: [
            "seconds": "\(monotonicSeconds() - started)"])
    }

    /// The batch plan for `ids`, made on a copy of the index that is released before returning (so the apply
    /// finds the index's storage uniquely referenced). nil: the index does not plan batches.
    private func planLinks(ids: [UInt64], vectors: [Float], pool: ParallelPool) -> UpsertPlan? {
        let index = stateLock.read { state.index }
        return vectors.withUnsafeBufferPointer { v in
            index.planUpserts(ids: ids, vectors: v) { n, body in
                withoutActuallyEscaping(body) { pool.forEach(n, $0) }
            }
        }
    }
}

import LynxIndex

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
    public func linkingReport() -> (pending: Int, linked: UInt64) {
        stateLock.read { (state.pendingCount, metrics.linked.current) }
    }

    /// Waits until nothing is pending, at most `seconds`; true when nothing is.
    @discardableResult
    public func waitUntilLinked(seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while pendingCount > 0 {
            if monotonicSeconds() > deadline { return false }
            usleep(2000)
        }
        return true
    }

    /// One step of the builder: links up to `limit` of the oldest pending operations into the index and settles
    /// them in the tail. Returns how many operations it took (0: nothing was pending).
    ///
    /// The distance work (the plan) runs on a copy of the index taken under the read lock and released before the
    /// apply, so neither searches nor writers wait for it: only this thread (holding `linkLock`) mutates the
    /// index, so the copy equals the index until the apply. The apply and the settling happen under one write
    /// lock, so a reader sees each record either pending or linked, never both or neither.
    func linkPending(limit: Int) -> Int {
        linkLock.withLock { _ in
            let (work, queueEnd): ([(op: PendingTail.Operation, vector: [Float]?)], Int) = stateLock.read {
                guard let tail = state.tail else { return ([], 0) }
                let next = tail.nextOperations(limit: limit)
                return (next.operations.map { ($0, tail.vector(of: $0)) }, next.end)
            }
            if work.isEmpty {
                if queueEnd > 0 { stateLock.write { state.settle([], queueEnd: queueEnd) { _ in } } }
                return 0
            }
            let started = monotonicSeconds()
            let plans = planLinks(work)
            stateLock.write {
                state.settle(work.map(\.op), queueEnd: queueEnd) { index in
                    for (i, item) in work.enumerated() {
                        if let vector = item.vector {
                            vector.withUnsafeBufferPointer { v in
                                if let plan = plans[i] {
                                    index.applyUpsert(plan, id: item.op.id, vector: v)
                                } else {
                                    index.upsert(id: item.op.id, vector: v)
                                }
                            }
                        } else {
                            index.remove(item.op.id)
                        }
                    }
                }
                // Counted under the write lock, so a reader that takes pending and linked together sees them agree.
                metrics.linked.add(UInt64(work.count))
            }
            metrics.linkDuration.observe(monotonicSeconds() - started)
            return work.count
        }
    }

    /// Plans for `work` against a copy of the index (nil entries: apply does the whole upsert, or it is a delete).
    /// Only the first upsert gets a plan: a second plan made against the same copy would be stale once the first is
    /// applied (the index would notice and redo it under the write lock).
    private func planLinks(_ work: [(op: PendingTail.Operation, vector: [Float]?)]) -> [UpsertPlan?] {
        var plans = [UpsertPlan?](repeating: nil, count: work.count)
        guard let first = work.first, let vector = first.vector else { return plans }
        let index = stateLock.read { state.index }
        guard index.plansUpserts else { return plans }
        plans[0] = vector.withUnsafeBufferPointer { index.planUpsert(id: first.op.id, vector: $0) }
        return plans
    }
}

import LynxSupport

extension Engine {
    /// Who a write comes from, which decides what it must pass to enter the write path.
    enum Writer {
        /// A client: the store must be ready and this node's `WriteGate` must let writes in.
        case client
        /// The leader's log on a follower, or the store's own maintenance: the store must be ready.
        case store
    }

    /// The one way into the write path: `write` runs under the writer lock once the store takes `writer`'s
    /// writes and, where writes are staged for background linking, once the pending tail has room for `count`
    /// more records (an empty tail takes any batch, so one larger than the bound still goes in alone). It waits
    /// for the builder at most `indexPendingWaitSeconds`, then throws `.overloaded` without writing anything.
    func admit<Result>(_ writer: Writer, staging count: Int, _ write: () throws -> Result) throws -> Result {
        try admit(writer, preparing: { ((), count) }, { _ in try write() })
    }

    /// As `admit(_:staging:_:)`, for a write that finds out under the writer lock what it will do: `prepare`
    /// (called under it, again after each wait) returns the plan for `write` and how many records it stages.
    func admit<Plan, Result>(_ writer: Writer, preparing prepare: () throws -> (plan: Plan, count: Int),
                             _ write: (Plan) throws -> Result) throws -> Result {
        let deadline = monotonicSeconds() + config.indexPendingWaitSeconds
        while true {
            let done: Result? = try writerLock.withLock { _ in
                switch writer {
                case .client: try checkWritable()
                case .store: try checkReady()
                }
                let (plan, count) = try prepare()
                if linksInBackground && count > 0 {
                    let pending = stateLock.read { state.pendingCount }
                    guard pending == 0 || pending + count <= config.indexMaxPending else { return nil }
                }
                return try write(plan)
            }
            if let done {
                if linksInBackground { builder?.wake() }
                return done
            }
            let left = deadline - monotonicSeconds()
            guard left > 0 else {
                metrics.pendingFullRejections.add()
                throw EngineError.overloaded(
                    "\(pendingCount) records are waiting to be linked into the index (the bound is \(config.indexMaxPending)); nothing was written",
                    retryAfterSeconds: 1)
            }
            builder?.waitForProgress(seconds: min(left, 0.05))
        }
    }
}

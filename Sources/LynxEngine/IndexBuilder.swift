import LynxSupport

/// One engine's share of the builder threads: whether it has pending records to link (`wake`), whether its
/// linking is paused, and the condition its writers wait on when the tail is full. The linking itself
/// (`Engine.linkPending`) runs on the builder thread shared by the process's engines (`EngineServices`), one
/// step of `batchSize` records at a time, the plan spread over the shared pool; engines with work take turns.
///
/// Concurrency: `wake`, `waitForProgress` and `setPaused` may be called from any thread; `step` by the builder
/// thread; `start` and `stop` once each, from the thread that owns the engine's life (recovery starts it,
/// `Engine.close` stops it).
final class IndexBuilder: @unchecked Sendable {
    private unowned let engine: Engine
    /// Records linked per step (planned together, applied under one write lock).
    let batchSize: Int
    private let builders: ServiceThread<IndexBuilder>
    private let pool: ParallelPool
    private let cond = ConditionLock()
    private var stopped = true
    private var kicked = false
    private var paused = false
    private var lastLook = 0.0

    /// How often the builder thread looks at an engine that did not ask (a missed wake costs at most this).
    static let pollSeconds = 0.5

    init(engine: Engine, batchSize: Int, builders: ServiceThread<IndexBuilder>, pool: ParallelPool) {
        self.engine = engine
        self.batchSize = max(1, batchSize)
        self.builders = builders
        self.pool = pool
    }

    func start() {
        cond.withLock { stopped = false; kicked = true }
        builders.register(self, pollSeconds: Self.pollSeconds)
    }

    /// Called after writes were staged.
    func wake() {
        let ask: Bool = cond.withLock {
            defer { kicked = true }
            return !kicked && !paused
        }
        if ask { builders.wake(self) }
    }

    /// Waits up to `seconds` for the builder to make progress (any step, or a stop). Returns at once when stopped.
    func waitForProgress(seconds: Double) {
        cond.withLock {
            if !stopped { cond.wait(seconds: seconds) }
        }
    }

    /// While paused the builder takes no step (pending records stay pending, searchable and counted).
    func setPaused(_ value: Bool) {
        cond.withLock { paused = value; kicked = true; cond.signal() }
        if !value { builders.wake(self) }
    }

    /// Stops after the current step. Pending records stay pending (a checkpoint keeps them).
    func stop() {
        builders.unregister(self)
        cond.withLock { stopped = true; cond.signal() }
    }

    /// One step on the builder thread, when asked for or not looked at for `pollSeconds`. True when there may
    /// be more to link now.
    func step() -> Bool {
        let go: Bool = cond.withLock {
            let now = monotonicSeconds()
            guard !paused, kicked || now - lastLook >= Self.pollSeconds else { return false }
            kicked = false
            lastLook = now
            return true
        }
        guard go else { return false }
        let linked = engine.linkPending(limit: batchSize, pool: pool)
        // Wakes writers that wait for room after every step.
        cond.withLock {
            if linked > 0 { kicked = true }
            cond.signal()
        }
        return linked > 0
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The background thread that links pending records into the index (`Engine.linkPending`), and the
/// condition writers wait on when the tail is full.
///
/// Concurrency: `wake`, `waitForProgress` and `setPaused` may be called from any thread; `start` and `stop` once each, from the
/// thread that owns the engine's life (recovery starts it, `Engine.close` stops it).
final class IndexBuilder: @unchecked Sendable {
    private unowned let engine: Engine
    /// Records linked per step (planned together, applied under one write lock).
    let batchSize: Int
    private let cond = ConditionLock()
    private var stopping = false
    private var stopped = true
    private var kicked = false
    private var paused = false

    /// Nice value of the builder thread: linking yields the CPU to request threads (ingest is acknowledged at log
    /// speed while the cores are busy) and takes what they leave idle.
    let niceness: Int32

    /// The threads that plan a batch: this one and `threads - 1` helpers.
    private let pool: ParallelPool

    init(engine: Engine, threads: Int, batchSize: Int, niceness: Int32) {
        self.engine = engine
        self.batchSize = max(1, batchSize)
        self.niceness = niceness
        pool = ParallelPool(width: threads, name: "lynx-builder", niceness: niceness)
    }

    func start() {
        cond.withLock { stopped = false }
        spawnThread(name: "lynx-builder") { [self] in run() }
    }

    /// Called after writes were staged.
    func wake() {
        cond.withLock {
            if !kicked { kicked = true; cond.signal() }
        }
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
    }

    /// Stops after the current step. Pending records stay pending (a checkpoint keeps them).
    func stop() {
        cond.withLock { stopping = true; cond.signal() }
        while !cond.withLock({ stopped }) { usleep(1000) }
    }

    private func run() {
        // On Linux the nice value is a thread's own, and `who` 0 is the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        while true {
            let (stop, idle): (Bool, Bool) = cond.withLock {
                if !stopping && (!kicked || paused) { cond.wait(seconds: 0.5) }
                kicked = false
                return (stopping, paused)
            }
            if stop { break }
            if idle { continue }
            // Link until the tail is empty, waking writers that wait for room after every step.
            while cond.withLock({ !stopping && !paused }) {
                let linked = engine.linkPending(limit: batchSize, pool: pool)
                cond.withLock { cond.signal() }
                if linked == 0 { break }
            }
        }
        pool.stop()
        cond.withLock { stopped = true; cond.signal() }
    }
}

import Dispatch
import LynxSupport

/// The background threads of a process's engines, shared by all of them so that the number of threads does not
/// grow with the number of engines (collections): commit threads (group commit of every engine's log), one
/// checkpoint thread (every engine's automatic checkpoints), and the index builder (one thread and a pool of
/// `indexThreads - 1` helpers, linking whichever engines have pending records, in turn). Each kind of thread
/// starts when the first engine that needs it registers. Beside them, `heapRelease` returns the process's free
/// heap to the system after bursts of the engines' work.
///
/// Maintenance that runs long (checkpoints and rebuilds asked for, backups) is not theirs: each store has a queue of
/// its own (`Engine.scheduleMaintenance`), so that one store's long job never holds up another's.
///
/// Create one per process and pass it to every `Engine`; an engine opened without one makes its own (and stops
/// it when it closes). Closing an engine unregisters it; `shutdown` stops the threads, after the engines closed.
///
/// Concurrency: every method may be called from any thread. An engine must not be closed from work these threads
/// run for it (a `whenDurable` callback): closing waits for that work to finish.
public final class EngineServices: @unchecked Sendable {
    /// Threads of the index builder (the builder thread and its helpers), each at `builderNiceness`.
    public let indexThreads: Int
    public let builderNiceness: Int32
    private let commitThreads: [ServiceThread<Committer>]
    private let nextCommitThread = PlainMutex<Int>(0)
    let checkpoints = ServiceThread<Checkpointer>(name: "lynx-checkpoint", serve: { $0.runIfDue() })
    private let builder = PlainMutex<(thread: ServiceThread<IndexBuilder>, pool: ParallelPool)?>(nil)
    /// The process's release of free heap; the engines' writes, linking, checkpoints and recovery note work on it.
    let heapRelease = HeapRelease.process

    /// `commitThreads` logs can fdatasync at once; an engine's log is served by one of them, assigned in turn.
    public init(indexThreads: Int = EngineConfig.defaultIndexThreads, builderNiceness: Int32 = 10,
                commitThreads: Int = 1) {
        self.indexThreads = max(1, indexThreads)
        self.builderNiceness = builderNiceness
        self.commitThreads = (0..<max(1, commitThreads)).map { i in
            let name = commitThreads > 1 ? "lynx-committer-\(i)" : "lynx-committer"
            return ServiceThread<Committer>(name: name, serve: { $0.serve() })
        }
    }

    /// Engines registered now, by kind of work (for tests and stats).
    public var registeredEngines: (committers: Int, checkpointers: Int, builders: Int) {
        (commitThreads.reduce(0) { $0 + $1.clientCount }, checkpoints.clientCount,
         builder.withLock { $0?.thread.clientCount ?? 0 })
    }

    /// The commit thread for the next log.
    func commitThread() -> ServiceThread<Committer> {
        nextCommitThread.withLock { next in
            defer { next = (next + 1) % commitThreads.count }
            return commitThreads[next]
        }
    }

    /// The builder thread and its pool, created with the first engine that links in the background.
    func indexBuilder() -> (thread: ServiceThread<IndexBuilder>, pool: ParallelPool) {
        builder.withLock { existing in
            if let existing { return existing }
            let pool = ParallelPool(width: indexThreads, name: "lynx-builder", niceness: builderNiceness)
            let thread = ServiceThread<IndexBuilder>(
                name: "lynx-builder", niceness: builderNiceness, serve: { $0.step() }, onExit: { pool.stop() })
            existing = (thread, pool)
            return (thread, pool)
        }
    }

    /// Stops every thread. Engines still open stop being served (close them first).
    public func shutdown() {
        builder.withLock { $0?.thread }?.stop()
        checkpoints.stop()
        for thread in commitThreads { thread.stop() }
    }
}

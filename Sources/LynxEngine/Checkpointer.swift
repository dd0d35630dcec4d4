#if canImport(Glibc)
import Glibc
#endif
import Logging
import LynxSupport
import Synchronization

/// Decides one engine's automatic checkpoints: when the log's checkpoint lag passes `walBytes`, or `interval`
/// seconds after the last checkpoint when there were writes since. The checkpoints run on the checkpoint thread
/// shared by the process's engines (`EngineServices`), which calls `runIfDue` for one engine at a time: a slow
/// checkpoint delays the others' by its duration, never skips them. After a failed automatic checkpoint this
/// engine is not tried again for a while (1 s, doubling up to a minute, never longer than `interval`), so an
/// engine whose checkpoints keep failing (a full disk) does not take the thread from the others.
///
/// Threads: `noteAppend` is cheap and is called by the writer; `runIfDue` by the checkpoint thread;
/// `didCheckpoint` by whoever checkpointed; `start` and `stop` by the thread that owns the engine's life.
final class Checkpointer: @unchecked Sendable {
    private unowned let engine: Engine
    private let walBytes: Int
    private let interval: Double
    private let logger: Logger
    private let scheduler: ServiceThread<Checkpointer>
    private let lock = PlainMutex<Times>(Times())
    /// `log.bytesWritten` at which `noteAppend` looks at the lag again (0: at the next append).
    private let checkAtBytes = Atomic<UInt64>(0)

    private struct Times {
        var lastCheckpointAt = monotonicSeconds()
        var checkpointedLSN: UInt64 = 0
        /// After failures: no automatic attempt before `retryAt`; the next wait after a failure.
        var retryAt = 0.0
        var backoff = Checkpointer.firstBackoffSeconds
    }

    static let firstBackoffSeconds = 1.0
    static let longestBackoffSeconds = 60.0

    init(engine: Engine, walBytes: Int, interval: Double, logger: Logger, scheduler: ServiceThread<Checkpointer>) {
        self.engine = engine
        self.walBytes = walBytes
        self.interval = interval
        self.logger = logger
        self.scheduler = scheduler
    }

    var ageSeconds: Double { monotonicSeconds() - lock.withLock { $0.lastCheckpointAt } }

    func start() {
        scheduler.register(self, pollSeconds: min(1, interval))
    }

    /// Waits for an automatic checkpoint of this engine in progress; none starts afterwards.
    func stop() {
        scheduler.unregister(self)
    }

    func didCheckpoint(lsn: UInt64) {
        lock.withLock {
            $0.lastCheckpointAt = monotonicSeconds()
            $0.checkpointedLSN = lsn
        }
        checkAtBytes.store(0, ordering: .relaxed)
    }

    /// Called after each append; asks for a look when the lag passed the byte threshold. The lag comes from a
    /// report taken under the log's locks (eight lock round trips), so it is looked at only once enough bytes
    /// were appended since the last look for it to have reached the threshold.
    func noteAppend() {
        let log = engine.log
        let written = log.bytesWritten
        guard written >= checkAtBytes.load(ordering: .relaxed) else { return }
        let lag = log.report(checkpointAgeSeconds: 0).checkpointLagBytes
        if lag >= walBytes {
            scheduler.wake(self)
            checkAtBytes.store(written + (1 << 20), ordering: .relaxed)  // look again after 1 MiB if still due
        } else {
            checkAtBytes.store(written + UInt64(walBytes - lag), ordering: .relaxed)
        }
    }

    /// Checkpoints when due (on the checkpoint thread). Always false: a checkpoint leaves nothing to do at once.
    func runIfDue() -> Bool {
        let now = monotonicSeconds()
        let times = lock.withLock { $0 }
        guard engine.status == .ready, now >= times.retryAt else { return false }
        let report = engine.logReport()
        let unsnapshotted = report.enabled ? report.checkpointLagFrames > 0 : report.lastLSN != times.checkpointedLSN
        let due = report.checkpointLagBytes >= walBytes || (now - times.lastCheckpointAt >= interval && unsnapshotted)
        guard due else { return false }
        do {
            try engine.checkpoint()
            lock.withLock { $0.retryAt = 0; $0.backoff = Self.firstBackoffSeconds }
        } catch {
            let wait = lock.withLock { t -> Double in
                let wait = min(t.backoff, interval)
                t.lastCheckpointAt = monotonicSeconds()
                t.retryAt = t.lastCheckpointAt + wait
                t.backoff = min(t.backoff * 2, Self.longestBackoffSeconds)
                return wait
            }
            logger.error("automatic checkpoint failed: \(error)", metadata: ["retry_seconds": "\(wait)"])
        }
        return false
    }
}

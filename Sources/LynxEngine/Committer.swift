#if canImport(Glibc)
import Glibc
#endif
import Logging
import LynxStorage
import LynxSupport

/// Group commit of one log: one fdatasync serves every writer waiting at that moment, and in `--sync flush` mode
/// an unsynced write is synced at the latest `interval` after it. The syncing is done by a commit thread shared
/// with other engines' committers (`EngineServices`), one `serve` at a time.
///
/// Threads: `waitDurable` may be called from any thread; callbacks run on the commit thread (or on the
/// caller's, when the LSN is already durable). After a failed fsync every waiter, present and future, gets
/// `.failed`: the fsync is never retried (the kernel may have dropped the dirty pages); other logs go on.
final class Committer: @unchecked Sendable {
    typealias Callback = @Sendable (Result<UInt64, EngineError>) -> Void

    private let log: LogManager
    private let metrics: EngineMetrics
    private let logger: Logger
    private let interval: Double
    private let onFailure: (String) -> Void
    private let loop: ServiceThread<Committer>
    private let cond = ConditionLock()
    // Guarded by `cond`:
    private var waiters: [(lsn: UInt64, callback: Callback)] = []
    private var failure: EngineError?
    private var stopping = false
    /// The number of waiters at which the commit thread wants to be woken: 1 while this log is idle, the
    /// gathering target while it gathers, never while it syncs (it looks at the waiters afterwards anyway).
    /// Waking it for every arrival cost a futex wake and a context switch per durable write.
    private var wakeAt = 1
    /// Held for one round of `serve`, so that `stop` waits for a round in progress and none runs after it.
    private let serving = PlainMutex<Void>(())
    // Under `serving`: the last sync's batch size and duration, for `gatherIfConcurrent`.
    private var lastBatch = 0
    private var lastSyncSeconds = 0.0

    /// Gathering (see `gatherIfConcurrent`) starts when the last sync served at least this many waiters.
    static let gatherFromBatch = 8
    /// Longest extra wait before a sync, and its share of the last sync's duration.
    static let maxGatherSeconds = 0.001
    static let gatherShareOfSync = 2.0

    init(log: LogManager, metrics: EngineMetrics, logger: Logger, interval: Double, loop: ServiceThread<Committer>,
         onFailure: @escaping (String) -> Void) {
        self.log = log
        self.metrics = metrics
        self.logger = logger
        self.interval = interval
        self.loop = loop
        self.onFailure = onFailure
    }

    func start() {
        loop.register(self, pollSeconds: interval / 2)
    }

    /// Calls back once `lsn` is durable.
    func waitDurable(_ lsn: UInt64, _ callback: @escaping Callback) {
        var wakeLoop = false
        let immediate: Result<UInt64, EngineError>? = cond.withLock {
            if let failure { return .failure(failure) }
            let durable = log.durableLSN
            if lsn <= durable { return .success(durable) }
            waiters.append((lsn, callback))
            if waiters.count >= wakeAt {
                // A gathering round waits on this log's condition; an idle thread on the loop's.
                wakeLoop = wakeAt == 1
                wakeAt = Int.max
                cond.signal()
            }
            return nil
        }
        if let immediate { callback(immediate) }
        if wakeLoop { loop.wake(self) }
    }

    /// Unregisters from the commit thread (waiting for a round in progress), then syncs what is pending.
    func stop() {
        cond.withLock {
            stopping = true
            cond.signal()
        }
        loop.unregister(self)
        _ = serve()
    }

    /// One round on the commit thread: syncs when there are unsynced writes, completes the waiters it can.
    /// Returns true when waiters arrived meanwhile (the thread should come back without sleeping).
    func serve() -> Bool {
        serving.withLock { _ in
            let failed: Bool = cond.withLock {
                wakeAt = Int.max
                return failure != nil
            }
            if !failed {
                if log.lastLSN > log.durableLSN {
                    gatherIfConcurrent()
                    syncOnce()
                } else {
                    completeWaiters(durable: log.durableLSN)
                }
            }
            return cond.withLock {
                // With waiters left the thread comes straight back: arrivals until then need not wake it.
                let more = !waiters.isEmpty && failure == nil && !stopping
                wakeAt = more ? Int.max : 1
                return more
            }
        }
    }

    /// Commit delay (PostgreSQL's commit_delay, but adaptive): when many writers are waiting on each sync, wait a
    /// little (twice the last sync's duration, at most 1 ms) for more of them, so that one fdatasync serves more
    /// writes: each fdatasync costs CPU as well as time here (two virtio requests and their completions), and the
    /// writers are CPU-bound on HTTP and JSON. BENCHMARKS.md ("Adaptive commit delay") has the figures.
    /// Ends early once twice the last batch is waiting. Not used below `gatherFromBatch` waiters per sync, so a
    /// lone or lightly concurrent writer pays no delay.
    private func gatherIfConcurrent() {
        guard lastBatch >= Self.gatherFromBatch else { return }
        let deadline = monotonicSeconds() + min(lastSyncSeconds * Self.gatherShareOfSync, Self.maxGatherSeconds)
        let target = lastBatch * 2
        cond.withLock {
            while waiters.count < target && !stopping && failure == nil {
                let left = deadline - monotonicSeconds()
                if left <= 0 { break }
                wakeAt = target
                cond.wait(seconds: left)
            }
            wakeAt = Int.max
        }
    }

    private func syncOnce() {
        let started = monotonicSeconds()
        do {
            let durable = try log.sync()
            lastSyncSeconds = monotonicSeconds() - started
            metrics.fsyncDuration.observe(lastSyncSeconds)
            completeWaiters(durable: durable)
        } catch {
            metrics.fsyncErrors.add()
            let what = (error as? StorageError)?.summary ?? "\(error)"
            let reason = "fdatasync of the write-ahead log failed (\(what)); the store refuses writes until restarted, and a restart recovers from the log"
            logger.critical("\(reason)", metadata: ["error": "\(error)"])
            onFailure(reason)
            let failed: [(lsn: UInt64, callback: Callback)] = cond.withLock {
                failure = .failed(reason)
                defer { waiters = [] }
                return waiters
            }
            for waiter in failed { waiter.callback(.failure(.failed(reason))) }
        }
    }

    private func completeWaiters(durable: UInt64) {
        let ready: [(lsn: UInt64, callback: Callback)] = cond.withLock {
            let done = waiters.filter { $0.lsn <= durable }
            waiters.removeAll { $0.lsn <= durable }
            return done
        }
        lastBatch = ready.count
        for waiter in ready { waiter.callback(.success(durable)) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// Runs automatic checkpoints: when the log's checkpoint lag passes `walBytes`, or `interval` seconds after
/// the last checkpoint when there were writes since. Its own thread; `noteAppend` is cheap and may be
/// called from the writer.
final class Checkpointer: @unchecked Sendable {
    private unowned let engine: Engine
    private let walBytes: Int
    private let interval: Double
    private let logger: Logger
    private let cond = ConditionLock()
    private var lastCheckpointAt = monotonicSeconds()
    private var stopping = false
    private var stopped = false
    private var kicked = false
    private var checkpointedLSN: UInt64 = 0
    /// `log.bytesWritten` at which `noteAppend` looks at the lag again (0: at the next append).
    private let checkAtBytes = Atomic<UInt64>(0)

    init(engine: Engine, walBytes: Int, interval: Double, logger: Logger) {
        self.engine = engine
        self.walBytes = walBytes
        self.interval = interval
        self.logger = logger
    }

    var ageSeconds: Double { monotonicSeconds() - cond.withLock { lastCheckpointAt } }

    func start() {
        spawnThread(name: "lynx-checkpoint") { [self] in run() }
    }

    func didCheckpoint(lsn: UInt64) {
        cond.withLock {
            lastCheckpointAt = monotonicSeconds()
            checkpointedLSN = lsn
        }
        checkAtBytes.store(0, ordering: .relaxed)
    }

    /// Called after each append; wakes the thread when the lag passed the byte threshold. The lag comes from a
    /// report taken under the log's locks (eight lock round trips), so it is looked at only once enough bytes
    /// were appended since the last look for it to have reached the threshold.
    func noteAppend() {
        guard let log = engine.log else { return }
        let written = log.bytesWritten
        guard written >= checkAtBytes.load(ordering: .relaxed) else { return }
        let lag = log.report(checkpointAgeSeconds: 0).checkpointLagBytes
        if lag >= walBytes {
            cond.withLock {
                if !kicked { kicked = true; cond.signal() }
            }
            checkAtBytes.store(written + (1 << 20), ordering: .relaxed)  // look again after 1 MiB if still due
        } else {
            checkAtBytes.store(written + UInt64(walBytes - lag), ordering: .relaxed)
        }
    }

    func stop() {
        cond.withLock { stopping = true; cond.signal() }
        while !cond.withLock({ stopped }) { usleep(1000) }
    }

    private func run() {
        while true {
            let (stop, age): (Bool, Double) = cond.withLock {
                if !stopping && !kicked { cond.wait(seconds: min(1, interval)) }
                kicked = false
                return (stopping, monotonicSeconds() - lastCheckpointAt)
            }
            if stop { break }
            guard engine.status == .ready else { continue }
            let report = engine.logReport()
            let unsnapshotted = report.enabled ? report.checkpointLagFrames > 0 : report.lastLSN != cond.withLock({ checkpointedLSN })
            let due = report.checkpointLagBytes >= walBytes || (age >= interval && unsnapshotted)
            guard due else { continue }
            do {
                try engine.checkpoint()
            } catch {
                logger.error("automatic checkpoint failed: \(error)")
                cond.withLock { lastCheckpointAt = monotonicSeconds() }
            }
        }
        cond.withLock { stopped = true }
    }

}

import Logging

/// What the cluster's control loop says about etcd calls that fail. The loop runs every 50 ms, so an etcd that is
/// down, or an `https://` endpoint whose certificate cannot be verified, fails the same call 20 times a second: the
/// first failure of an operation is logged at once (warning, with etcd's or libcurl's error text), then at most one
/// line per `repeatSeconds` while it keeps failing (with how many failed since the last line), and one notice when it
/// succeeds again. Nothing is swallowed: every failure is counted in the next line.
///
/// Public for its unit test (EtcdFailureLogTests). Threads: owned by the control thread (`lynx-cluster`), and by `ClusterNode.stop()` after that thread ended.
public struct EtcdFailureLog {
    public let logger: Logger
    public let repeatSeconds: Double

    private struct Failing {
        var since: Double
        var lastLogged: Double
        var unlogged: Int
    }
    private var failing: [String: Failing] = [:]

    public init(logger: Logger, repeatSeconds: Double = 30) {
        self.logger = logger
        self.repeatSeconds = repeatSeconds
    }

    /// `operation` failed with `error` at monotonic time `now`.
    public mutating func failed(_ operation: String, _ error: any Error, now: Double) {
        guard var f = failing[operation] else {
            failing[operation] = Failing(since: now, lastLogged: now, unlogged: 0)
            logger.warning("etcd \(operation) failed", metadata: ["error": "\(error)"])
            return
        }
        f.unlogged += 1
        if now - f.lastLogged >= repeatSeconds {
            logger.warning("etcd \(operation) still failing", metadata: [
                "error": "\(error)", "failures": "\(f.unlogged)", "seconds": "\(Int(now - f.since))"])
            f.lastLogged = now
            f.unlogged = 0
        }
        failing[operation] = f
    }

    /// `operation` succeeded: if it was failing, say that it recovered.
    public mutating func succeeded(_ operation: String, now: Double) {
        guard let f = failing.removeValue(forKey: operation) else { return }
        logger.notice("etcd \(operation) succeeds again", metadata: ["seconds": "\(Int(now - f.since))"])
    }

    /// Runs `body`; a thrown error is logged (as above) and turned into nil.
    public mutating func attempt<T>(_ operation: String, now: Double, _ body: () throws -> T) -> T? {
        do {
            let value = try body()
            succeeded(operation, now: now)
            return value
        } catch {
            failed(operation, error, now: now)
            return nil
        }
    }
}

import Logging
import Synchronization
import XCTest
import LynxReplication

/// The cluster's etcd failures are logged, with the error's text, and a failure that repeats every control tick is
/// logged once per `repeatSeconds` with the count of failures in between.
final class EtcdFailureLogTests: XCTestCase {
    private struct Err: Error, CustomStringConvertible { var description: String }

    /// Every line logged, as "level message error=... failures=...".
    private final class Lines: @unchecked Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    private struct Capture: LogHandler {
        let sink: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            let meta = (metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.lines.withLock { $0.append("\(level) \(message) \(meta)") }
        }
    }

    private func log(repeatSeconds: Double = 30) -> (EtcdFailureLog, Lines) {
        let lines = Lines()
        let logger = Logger(label: "test") { _ in Capture(sink: lines) }
        return (EtcdFailureLog(logger: logger, repeatSeconds: repeatSeconds), lines)
    }

    func testTheFirstFailureIsAWarningWithTheErrorText() {
        var (log, lines) = log()
        log.failed("lease grant", Err(description: "SSL certificate problem: unable to get local issuer certificate"), now: 0)
        XCTAssertEqual(lines.all, ["warning etcd lease grant failed error=SSL certificate problem: unable to get local issuer certificate"])
    }

    func testARepeatedFailureIsCountedAndLoggedOncePerInterval() {
        var (log, lines) = log(repeatSeconds: 30)
        // 20 failures a second for 61 s, as the 50 ms control loop would make them.
        for tick in 0..<(61 * 20) {
            log.failed("read of the leader key", Err(description: "connection refused"), now: Double(tick) * 0.05)
        }
        XCTAssertEqual(lines.all.count, 3, "\(lines.all)")
        XCTAssertEqual(lines.all[0], "warning etcd read of the leader key failed error=connection refused")
        XCTAssertEqual(lines.all[1], "warning etcd read of the leader key still failing error=connection refused failures=600 seconds=30")
        XCTAssertEqual(lines.all[2], "warning etcd read of the leader key still failing error=connection refused failures=600 seconds=60")
    }

    func testOperationsAreLimitedSeparatelyAndRecoveryIsSaid() {
        var (log, lines) = log()
        log.failed("lease grant", Err(description: "timeout"), now: 0)
        log.failed("campaign", Err(description: "timeout"), now: 0.05)
        log.succeeded("campaign", now: 2)
        log.succeeded("campaign", now: 3)  // not failing any more: nothing to say
        log.failed("campaign", Err(description: "refused"), now: 4)
        XCTAssertEqual(lines.all, [
            "warning etcd lease grant failed error=timeout",
            "warning etcd campaign failed error=timeout",
            "notice etcd campaign succeeds again seconds=1",
            "warning etcd campaign failed error=refused",
        ])
    }

    func testAttemptReturnsTheValueOrNilAfterLogging() {
        var (log, lines) = log()
        XCTAssertEqual(log.attempt("get", now: 0) { 7 }, 7)
        XCTAssertNil(log.attempt("get", now: 1) { () throws -> Int in throw Err(description: "boom") })
        XCTAssertEqual(log.attempt("get", now: 5) { 8 }, 8)
        XCTAssertEqual(lines.all, ["warning etcd get failed error=boom", "notice etcd get succeeds again seconds=4"])
    }
}

import Foundation
import LynxSupport
import LynxTransport
import XCTest

/// The request deadline of `ConnectionTracker`, on a clock the test moves by hand.
final class ConnectionTrackerTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testAConnectionIdlePastTheDeadlineIsCutAndOneBeingHandledIsNot() {
        let clock = ManualClock(start: 5 * second)
        let cuts = CutLog()
        let tracker = makeTracker(clock, cuts)
        tracker.started(connection(1), fd: -1, address: "127.0.0.1")
        tracker.started(connection(2), fd: -1, address: "127.0.0.1")
        tracker.setPhase(connection(2), .handling)

        clock.advance(by: second)
        tracker.reap()
        XCTAssertEqual(cuts.deadlines, [], "cut at the deadline itself")

        clock.advance(by: second / 2)
        tracker.reap()
        XCTAssertEqual(cuts.deadlines, [1.5], "the idle connection is cut, after the time it waited")
        XCTAssertEqual(tracker.openCount, 1, "the connection being handled stays")
    }

    /// The race of issue 19 (D3): the reaper reads the clock, a worker answers a request and stores a later "ready
    /// since", then the reaper compares the two. Its reading must not be older than the stored time.
    func testAnAnswerStoredAsTheReaperReadsTheClockIsNotCut() {
        let clock = ManualClock(start: 5 * second)
        let cuts = CutLog()
        let tracker = makeTracker(clock, cuts)
        tracker.started(connection(1), fd: -1, address: "127.0.0.1")
        tracker.setPhase(connection(1), .handling)

        let answered = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        clock.afterNextRead = {
            // A worker thread finishes the request now; while the reaper holds the tracker's lock it has to wait,
            // so the reaper gives it a moment only.
            Thread {
                clock.advance(by: 1)
                tracker.setPhase(connection(1), .waiting)
                answered.signal()
                finished.signal()
            }.start()
            _ = answered.wait(timeout: .now() + 0.2)
        }
        tracker.reap()
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success, "the worker never finished")
        XCTAssertEqual(cuts.deadlines, [], "a connection answered a moment ago was cut as past its deadline")
        XCTAssertEqual(tracker.openCount, 1)
    }

    /// However the readings come to be ordered, a "ready since" later than the reaper's reading is no time waited.
    func testAReadingBehindTheStoredTimeCountsAsNoTimeWaited() {
        XCTAssertEqual(ConnectionTracker.elapsed(since: 7 * second, now: 5 * second), 0)
        XCTAssertEqual(ConnectionTracker.elapsed(since: 5 * second, now: 7 * second), 2 * second)
    }

    /// Past the high-water mark the oldest waiting connection is shut, leaving room below the limit for the
    /// connections shut and not yet closed by libmicrohttpd (which still count against its limit).
    func testEvictionKeepsTheOpenConnectionsAtTheMarkBelowTheLimit() {
        XCTAssertEqual(ConnectionTracker.highWater(forLimit: 256, workerThreads: 2), 256 - 44)
        XCTAssertEqual(ConnectionTracker.highWater(forLimit: 1024, workerThreads: 2), 1024 - 64, "1/16 when more")
        XCTAssertEqual(ConnectionTracker.highWater(forLimit: 4, workerThreads: 2), 2, "at most half the limit")
        XCTAssertEqual(ConnectionTracker.highWater(forLimit: 1, workerThreads: 2), 0)

        let clock = ManualClock(start: second)
        let evicted = PlainMutex(0)
        let tracker = ConnectionTracker(
            requestTimeoutSeconds: 30, maxConnections: 1024, maxConnectionsPerAddress: 256, workerThreads: 2,
            clock: { clock.read() },
            onCut: { cuts in evicted.withLock { $0 += cuts.count } })
        for n in 1...300 {
            tracker.started(connection(UInt(n)), fd: -1, address: "127.0.0.1")
            clock.advance(by: 1)
        }
        XCTAssertEqual(tracker.openCount, 212)
        XCTAssertEqual(evicted.withLock { $0 }, 300 - 212)
    }

    private func makeTracker(_ clock: ManualClock, _ cuts: CutLog) -> ConnectionTracker {
        ConnectionTracker(requestTimeoutSeconds: 1, maxConnections: 64, maxConnectionsPerAddress: 64, workerThreads: 2,
                          clock: { clock.read() }, onCut: { cuts.record($0) })
    }
}

/// A connection handle for the tracker, which only uses it as a key.
private func connection(_ n: UInt) -> OpaquePointer { OpaquePointer(bitPattern: n * 16)! }

/// Nanoseconds that move only when told; `afterNextRead` runs once, right after a reading is taken.
private final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now: UInt64
    private var hook: (() -> Void)?

    init(start: UInt64) { now = start }

    var afterNextRead: (() -> Void)? {
        get { lock.withLock { hook } }
        set { lock.withLock { hook = newValue } }
    }

    func advance(by nanos: UInt64) { lock.withLock { now += nanos } }

    func read() -> UInt64 {
        let (value, pending): (UInt64, (() -> Void)?) = lock.withLock {
            defer { hook = nil }
            return (now, hook)
        }
        pending?()
        return value
    }
}

/// The seconds waited of every deadline cut, in order.
private final class CutLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: [Double] = []

    var deadlines: [Double] { lock.withLock { seconds } }

    func record(_ cuts: [ConnectionTracker.Cut]) {
        lock.withLock {
            for case .deadline(_, _, let waited) in cuts { seconds.append(waited) }
        }
    }
}

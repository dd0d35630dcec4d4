import LynxStorage
import LynxSupport

/// One committed transaction as the log holds it: its frames' operations and the LSN of its first frame (frame i
/// has LSN `firstLSN + i`; the last one is the commit frame).
public struct LoggedTransaction: Sendable {
    public var firstLSN: UInt64
    public var ops: [WALOperation]
    public var lastLSN: UInt64 { firstLSN + UInt64(ops.count) - 1 }

    public init(firstLSN: UInt64, ops: [WALOperation]) {
        self.firstLSN = firstLSN
        self.ops = ops
    }
}

/// What `RetainedLog.read` found.
public enum RetainedRead: Sendable {
    /// The transactions after the asked LSN (possibly none), oldest first.
    case transactions([LoggedTransaction])
    /// The asked LSN is older than the oldest transaction still retained (`startLSN` is the first one kept).
    case beforeWindow(startLSN: UInt64)
}

/// The newest committed transactions of a store, kept in memory up to a byte budget, for readers of the log that
/// follow it (replicas). Filled in LSN order: by recovery with what it replays, then by every append. Dropping the
/// oldest past the budget moves `startLSN` on; a reader behind it has to start from a snapshot instead.
///
/// Threads: `append` under the engine's writer lock; `read` from any thread.
final class RetainedLog: @unchecked Sendable {
    let capacityBytes: Int
    private struct Entry {
        var transaction: LoggedTransaction
        /// Its `approximateBytes`, counted against the budget.
        var bytes: Int
    }
    private struct Window {
        var entries: [Entry] = []
        /// Index of the oldest live entry (entries before it were dropped; compacted now and then).
        var head = 0
        var bytes = 0
        /// LSN the next transaction appended starts at.
        var nextLSN: UInt64 = 1
        /// Called once the log passes their LSN (`whenPast`).
        var waiters: [(lsn: UInt64, callback: @Sendable () -> Void)] = []

        /// LSN of the oldest frame retained, or the next LSN when nothing is.
        var startLSN: UInt64 { head < entries.count ? entries[head].transaction.firstLSN : nextLSN }
    }
    private let window = PlainMutex(Window())

    init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    /// Forgets everything; the next transaction appended must start at `nextLSN`.
    func reset(nextLSN: UInt64) {
        window.withLock { $0 = Window(nextLSN: nextLSN) }
    }

    var startLSN: UInt64 { window.withLock { $0.startLSN } }
    var nextLSN: UInt64 { window.withLock { $0.nextLSN } }

    /// Calls `callback` once the log holds `lsn` (at once when it does), from the appending thread: it must only
    /// hand work on.
    func whenPast(_ lsn: UInt64, _ callback: @escaping @Sendable () -> Void) {
        let now: Bool = window.withLock { w in
            if w.nextLSN > lsn { return true }
            w.waiters.append((lsn, callback))
            return false
        }
        if now { callback() }
    }

    /// Appends the transaction whose commit frame has LSN `commitLSN` (as the log's append and replay give it).
    func append(commitLSN: UInt64, _ ops: [WALOperation]) {
        let entry = Entry(transaction: LoggedTransaction(firstLSN: commitLSN - UInt64(ops.count) + 1, ops: ops),
                          bytes: ops.reduce(0) { $0 + $1.approximateBytes })
        let due: [@Sendable () -> Void] = window.withLock { w in
            w.entries.append(entry)
            w.nextLSN = commitLSN + 1
            w.bytes += entry.bytes
            while w.bytes > capacityBytes && w.head < w.entries.count - 1 {
                w.bytes -= w.entries[w.head].bytes
                w.head += 1
            }
            if w.head > 1024 && w.head * 2 > w.entries.count {
                w.entries.removeFirst(w.head)
                w.head = 0
            }
            guard !w.waiters.isEmpty else { return [] }
            let due = w.waiters.filter { $0.lsn < w.nextLSN }.map(\.callback)
            w.waiters.removeAll { $0.lsn < w.nextLSN }
            return due
        }
        for callback in due { callback() }
    }

    /// Whole transactions with frames after `after`, oldest first, until about `maxBytes` (at least one
    /// transaction when there is one).
    func read(after: UInt64, maxBytes: Int) -> RetainedRead {
        window.withLock { w in
            if after + 1 < w.startLSN { return .beforeWindow(startLSN: w.startLSN) }
            // Binary search for the first transaction whose last LSN is after `after`.
            var lo = w.head, hi = w.entries.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if w.entries[mid].transaction.lastLSN <= after { lo = mid + 1 } else { hi = mid }
            }
            var out: [LoggedTransaction] = []
            var bytes = 0
            for entry in w.entries[lo...] {
                if bytes >= maxBytes && !out.isEmpty { break }
                out.append(entry.transaction)
                bytes += entry.bytes
            }
            return .transactions(out)
        }
    }
}

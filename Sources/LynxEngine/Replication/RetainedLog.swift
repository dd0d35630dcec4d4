import LynxStorage

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
    private struct Window {
        var transactions: [LoggedTransaction] = []
        /// Index of the oldest live entry (entries before it were dropped; compacted now and then).
        var head = 0
        var bytes = 0
        /// LSN of the oldest frame retained, or the next LSN when nothing is.
        var startLSN: UInt64 = 1
        /// LSN the next transaction appended starts at.
        var nextLSN: UInt64 = 1
    }
    private let window = PlainMutex(Window())

    init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    /// Forgets everything; the next transaction appended must start at `nextLSN`.
    func reset(nextLSN: UInt64) {
        window.withLock { $0 = Window(startLSN: nextLSN, nextLSN: nextLSN) }
    }

    var startLSN: UInt64 { window.withLock { $0.startLSN } }
    var nextLSN: UInt64 { window.withLock { $0.nextLSN } }

    func append(_ transaction: LoggedTransaction) {
        let size = transaction.ops.reduce(0) { $0 + $1.approximateBytes }
        window.withLock { w in
            if w.head == w.transactions.count { w.startLSN = transaction.firstLSN }
            w.transactions.append(transaction)
            w.nextLSN = transaction.lastLSN + 1
            w.bytes += size
            while w.bytes > capacityBytes && w.head < w.transactions.count - 1 {
                let dropped = w.transactions[w.head]
                w.bytes -= dropped.ops.reduce(0) { $0 + $1.approximateBytes }
                w.head += 1
                w.startLSN = w.transactions[w.head].firstLSN
            }
            if w.head > 1024 && w.head * 2 > w.transactions.count {
                w.transactions.removeFirst(w.head)
                w.head = 0
            }
        }
    }

    /// Whole transactions with frames after `after` and at most `through` (the durable LSN), oldest first, until
    /// about `maxBytes` (at least one transaction when there is one).
    func read(after: UInt64, through: UInt64, maxBytes: Int) -> RetainedRead {
        window.withLock { w in
            if after + 1 < w.startLSN { return .beforeWindow(startLSN: w.startLSN) }
            // Binary search for the first transaction whose last LSN is after `after`.
            var lo = w.head, hi = w.transactions.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if w.transactions[mid].lastLSN <= after { lo = mid + 1 } else { hi = mid }
            }
            var out: [LoggedTransaction] = []
            var bytes = 0
            var i = lo
            while i < w.transactions.count {
                let t = w.transactions[i]
                if t.lastLSN > through || (bytes >= maxBytes && !out.isEmpty) { break }
                out.append(t)
                bytes += t.ops.reduce(0) { $0 + $1.approximateBytes }
                i += 1
            }
            return .transactions(out)
        }
    }
}

import Synchronization

/// The process-wide ceiling on request and answer bodies held in memory (`--max-body-memory`): the sum of the
/// bytes reserved by bodies being received or handled and by large answers being sent. A body reserves its
/// `Content-Length` before any of it is read, or (chunked) reserves as it grows; an answer reserves its size
/// when it is queued; both release when their request completes. A reservation that would take the sum over
/// the ceiling is refused, and the request gets 503 with `Retry-After`.
///
/// Threads: any; lock-free.
final class BodyMemory: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Reserves `bytes`; false (nothing reserved) when that would pass the ceiling.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard bytes <= limit - current else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ bytes: Int) {
        if bytes > 0 { used.subtract(bytes, ordering: .relaxed) }
    }

    var inUse: Int { used.load(ordering: .relaxed) }
}

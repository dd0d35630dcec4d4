#if canImport(Glibc)
import Glibc
#endif
import LynxSupport
import Synchronization

/// A fixed set of helper threads for one caller's parallel loops: `forEach(n, body)` runs `body(0..<n)` on the
/// caller and the helpers, and returns when every index is done. Threads are started once (named, with the
/// caller's nice value), so a loop costs two condition-variable round trips, not thread creation.
///
/// Concurrency: one caller at a time (the builder thread of `EngineServices`); `body` must be safe to run
/// concurrently for distinct indices.
final class ParallelPool: @unchecked Sendable {
    let width: Int
    private let cond = ConditionLock()
    private var job: ((Int) -> Void)?
    private var count = 0
    private var generation: UInt64 = 0
    private var busyHelpers = 0
    private var stopping = false
    private let next = Atomic<Int>(0)

    /// `width` threads in all, the caller included (so `width - 1` helpers).
    init(width: Int, name: String, niceness: Int32) {
        self.width = max(1, width)
        for i in 1..<self.width {
            spawnThread(name: "\(name)-\(i)") { [self] in
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                helperLoop()
            }
        }
    }

    func forEach(_ n: Int, _ body: @escaping (Int) -> Void) {
        guard n > 1 && width > 1 else {
            for i in 0..<n { body(i) }
            return
        }
        next.store(0, ordering: .relaxed)
        cond.withLock {
            job = body
            count = n
            generation &+= 1
            busyHelpers = width - 1
            cond.signal()
        }
        drain(body, n)
        cond.withLock {
            while busyHelpers > 0 { cond.wait(seconds: 1) }
            job = nil
        }
    }

    func stop() {
        cond.withLock { stopping = true; cond.signal() }
    }

    private func drain(_ body: (Int) -> Void, _ n: Int) {
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= n { return }
            body(i)
        }
    }

    private func helperLoop() {
        var seen: UInt64 = 0
        while runOneJob(&seen) {
            cond.withLock {
                busyHelpers -= 1
                cond.signal()
            }
        }
    }

    /// Waits for the next job and works on it; false when stopping. Its own function so that the helper's
    /// references to the job's closure are gone before it reports done (the caller may pass a closure that must
    /// not outlive `forEach`).
    private func runOneJob(_ seen: inout UInt64) -> Bool {
        let work: (((Int) -> Void), Int)? = cond.withLock {
            while !stopping && generation == seen { cond.wait(seconds: 1) }
            if stopping { return nil }
            seen = generation
            return (job!, count)
        }
        guard let (body, n) = work else { return false }
        drain(body, n)
        return true
    }
}

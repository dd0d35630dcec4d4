#if canImport(Glibc)
import Glibc
#endif
import LynxEngine
import LynxSupport
import Synchronization

/// How a follower thread (`StoreFollower`, `CatalogFollower`) is stopped without waiting for it: `stop` raises
/// the flag its loop checks and takes the fence, which every change the thread makes holds; once `stop` returns
/// the thread changes nothing more, even while it still waits for its last answer from the leader.
final class FollowerFence: Sendable {
    private let stopping = Atomic<Bool>(false)
    /// Held while a change is made; true once stopped.
    private let fence = PlainMutex(false)

    var isStopped: Bool { stopping.load(ordering: .relaxed) }

    /// Once this returns no `unlessStopped` body runs any more (one in progress finishes first).
    func stop() {
        stopping.store(true, ordering: .relaxed)
        fence.withLock { $0 = true }
    }

    /// Runs `body` unless stopped, holding the fence.
    func unlessStopped(_ body: () throws -> Void) throws {
        try fence.withLock { stopped in
            guard !stopped else { return }
            try body()
        }
    }

    /// Sleeps `seconds`, or less when stopped meanwhile.
    func pause(_ seconds: Double) {
        let until = monotonicSeconds() + seconds
        while !isStopped {
            let left = until - monotonicSeconds()
            if left <= 0 { return }
            usleep(useconds_t(min(left, 0.02) * 1e6))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable (on a monotonic clock), for threads that wait for work or for a state to
/// change: take the lock with `withLock`, `wait` inside it in a loop on the condition, `signal` after changing it.
///
/// Concurrency: any thread; `wait` and `signal` only while holding the lock through `withLock`.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (the lock must be held) until signalled or `seconds` pass.
    public func wait(seconds: Double) {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let whole = Int(seconds)
        let nanos = Int((seconds - Double(whole)) * 1e9) + ts.tv_nsec
        ts.tv_sec += whole + nanos / 1_000_000_000
        ts.tv_nsec = nanos % 1_000_000_000
        pthread_cond_timedwait(cond, mutex, &ts)
    }

    public func signal() { pthread_cond_broadcast(cond) }
}

#if canImport(Glibc)
import Glibc
#endif

/// A mutex guarding a value, on a plain (adaptive, non-priority-inheriting) pthread mutex.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on priority-inheritance futexes, whose contended path
/// goes through the kernel's rt_mutex; under the write path's contention (two server threads taking the writer
/// lock for every ingest request) that showed up as `rt_mutex_slowlock_block` and context switches in `perf`.
/// An adaptive mutex spins briefly before sleeping, which suits the short critical sections here.
public final class PlainMutex<State>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var state: State

    public init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held and the guarded value passed in-out; throws what `body` throws (typed).
    @inlinable @inline(__always)
    public func withLock<R, Failure: Error>(_ body: (inout State) throws(Failure) -> R) throws(Failure) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if MemoryLayout<State>.size == 0 {
            // A lock that guards only a section (`PlainMutex<Void>`): no in-out access of the empty value, which
            // ThreadSanitizer records at the object's own address and reports against the unlocked read of the
            // object's header by the next caller of `withLock`.
            var nothing = state
            return try body(&nothing)
        }
        return try body(&state)
    }

    /// Runs `body` with the lock held if it is free now; nil (and `body` not run) when another thread holds it.
    @inlinable
    public func withLockIfFree<R>(_ body: (inout State) throws -> R) rethrows -> R? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}

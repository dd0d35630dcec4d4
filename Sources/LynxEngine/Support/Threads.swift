#if canImport(Glibc)
import Glibc
#endif

/// Starts `body` on a new detached pthread named `name` (visible in `top -H`, `perf`).
public func spawnThread(name: String, _ body: @escaping () -> Void) {
    final class Box {
        let body: () -> Void
        let name: String
        init(_ name: String, _ body: @escaping () -> Void) { self.name = name; self.body = body }
    }
    let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { arg in
        let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    pthread_detach(thread)
}

/// A mutex with a condition variable, for the engine's background threads.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
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

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (the lock must be held) until signalled or `seconds` pass.
    func wait(seconds: Double) {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let whole = Int(seconds)
        let nanos = Int((seconds - Double(whole)) * 1e9) + ts.tv_nsec
        ts.tv_sec += whole + nanos / 1_000_000_000
        ts.tv_nsec = nanos % 1_000_000_000
        pthread_cond_timedwait(cond, mutex, &ts)
    }

    func signal() { pthread_cond_broadcast(cond) }
}

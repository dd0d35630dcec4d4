/// A value one thread provides once and others wait for (a one-shot latch) on a `ConditionLock`: what a thread
/// that hands work to another and must wait for its end uses instead of a semaphore.
///
/// Concurrency: `complete` from any thread (the first call counts, later ones are ignored); `wait` from any
/// thread, any number of times.
public final class Completion<Value>: @unchecked Sendable {
    private let cond = ConditionLock()
    private var value: Value?
    private var completed = false

    public init() {}

    public func complete(_ v: Value) {
        cond.withLock {
            guard !completed else { return }
            value = v
            completed = true
            cond.signal()
        }
    }

    /// Waits until completed and returns the value.
    public func wait() -> Value {
        cond.withLock {
            while !completed { cond.wait(seconds: 1) }
            return value!
        }
    }
}

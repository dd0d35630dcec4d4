import Synchronization

/// A monotonically increasing count. Thread-safe.
public final class Counter: Sendable {
    @usableFromInline let value = Atomic<UInt64>(0)
    public init() {}
    @inlinable @inline(__always) public func add(_ n: UInt64 = 1) { value.add(n, ordering: .relaxed) }
    public var current: UInt64 { value.load(ordering: .relaxed) }
}

/// A value that goes up and down. Thread-safe.
public final class Gauge: Sendable {
    private let bits = Atomic<UInt64>(0)
    public init() {}
    public func set(_ v: Double) { bits.store(v.bitPattern, ordering: .relaxed) }
    public var current: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

/// A Prometheus histogram with fixed upper bounds. Thread-safe (one short lock per observation).
public final class Histogram: Sendable {
    public let bounds: [Double]
    private let state: PlainMutex<(buckets: [UInt64], sum: Double, count: UInt64)>

    public init(bounds: [Double]) {
        self.bounds = bounds
        state = PlainMutex((buckets: [UInt64](repeating: 0, count: bounds.count), sum: 0, count: 0))
    }

    public func observe(_ v: Double) {
        state.withLock { s in
            if let i = bounds.firstIndex(where: { v <= $0 }) { s.buckets[i] &+= 1 }
            s.sum += v
            s.count &+= 1
        }
    }

    /// Cumulative bucket counts (as Prometheus wants them), sum and count.
    public func snapshot() -> (cumulative: [UInt64], sum: Double, count: UInt64) {
        state.withLock { s in
            var running: UInt64 = 0
            let cumulative = s.buckets.map { running &+= $0; return running }
            return (cumulative, s.sum, s.count)
        }
    }

    /// Latency buckets from 50 µs to 10 s.
    public static let latencyBounds: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
}

/// Counters keyed by a tuple of label values. Thread-safe.
public final class LabeledCounter: Sendable {
    public let labelNames: [String]
    private let counts = PlainMutex<[[String]: UInt64]>([:])
    public init(labelNames: [String]) { self.labelNames = labelNames }
    public func add(_ labels: [String], _ n: UInt64 = 1) {
        counts.withLock { $0[labels, default: 0] &+= n }
    }
    public func snapshot() -> [([String], UInt64)] {
        counts.withLock { Array($0) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }
}

import LynxSupport

/// Request counters and latency histograms of the front end. Thread-safe.
///
/// Recording is on every request's path, so it avoids building label strings: a request is counted under one
/// packed key (route index, method index, status code) in one dictionary of integers, and its duration goes to
/// the histogram of its route by index. Label strings are made only when `/metrics` is rendered.
public final class HTTPMetrics: Sendable {
    public static let requestLabelNames = ["route", "method", "code"]
    public static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"]

    /// Route templates and "unmatched"; the index of each is its slot in `durations`.
    public let routes: [String]
    private let routeIndex: [String: Int]
    /// One histogram per route template (a fixed set, so the label cardinality is bounded).
    public let durations: [Histogram]
    private let counts = PlainMutex<[UInt32: UInt64]>([:])
    /// Connections the server closed by itself, by reason (every reason present from the start).
    private let closed = PlainMutex<[ConnectionCloseReason: UInt64]>(
        Dictionary(uniqueKeysWithValues: ConnectionCloseReason.allCases.map { ($0, 0) }))

    public func recordClosed(_ reason: ConnectionCloseReason) { closed.withLock { $0[reason, default: 0] &+= 1 } }

    /// (reason, count), sorted by reason.
    public func closedConnections() -> [(String, UInt64)] {
        closed.withLock { Array($0) }.map { ($0.key.rawValue, $0.value) }.sorted { $0.0 < $1.0 }
    }

    /// `templates`: the router's route templates (a fixed set: collection names never become labels).
    public init(templates: [String]) {
        routes = templates + ["unmatched"]
        routeIndex = Dictionary(uniqueKeysWithValues: routes.enumerated().map { ($1, $0) })
        durations = routes.map { _ in Histogram(bounds: Histogram.latencyBounds) }
    }

    public func record(route: String, method: String, status: Int, seconds: Double) {
        let r = routeIndex[route] ?? routes.count - 1
        let m = Self.methods.firstIndex(of: method) ?? Self.methods.count - 1  // the last is "other"
        let key = UInt32(r) << 24 | UInt32(m) << 16 | UInt32(clamping: min(status, 0xFFFF))
        counts.withLock { $0[key, default: 0] &+= 1 }
        durations[r].observe(seconds)
    }

    /// (route, method, code) label values and counts, sorted by the label values.
    public func requestCounts() -> [([String], UInt64)] {
        counts.withLock { Array($0) }
            .map { key, n in
                ([routes[Int(key >> 24)], Self.methods[Int((key >> 16) & 0xFF)], String(key & 0xFFFF)], n)
            }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }
}

import LynxEngine
import Synchronization

/// Request counters and latency histograms of the front end. Thread-safe.
final class HTTPMetrics: Sendable {
    let requests = LabeledCounter(labelNames: ["route", "method", "code"])
    /// One histogram per route template (a fixed set, so the label cardinality is bounded).
    let durations: [String: Histogram]

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    init() {
        var d: [String: Histogram] = [:]
        for route in LynxAPI.routes.map(\.template) + ["unmatched"] {
            d[route] = Histogram(bounds: Histogram.latencyBounds)
        }
        durations = d
    }

    func record(route: String, method: String, status: Int, seconds: Double) {
        let knownMethod = Self.methods.contains(method) ? method : "other"
        requests.add([route, knownMethod, String(status)])
        durations[route]?.observe(seconds)
    }
}

import LynxSupport

/// The engine's own counters, read by `/metrics`. Thread-safe.
public final class EngineMetrics: Sendable {
    public let upserts = Counter()
    public let deletes = Counter()
    public let searches = Counter()
    /// Searches by the plan that ran them (`SearchPlan.Kind`).
    public let searchPlans = LabeledCounter(labelNames: ["plan"])
    public let walBytesWritten = Counter()
    public let fsyncDuration = Histogram(bounds: Histogram.latencyBounds)
    public let fsyncErrors = Counter()
    public let appendErrors = LabeledCounter(labelNames: ["reason"])
    public let checkpoints = LabeledCounter(labelNames: ["result"])
    /// Row chunks per checkpoint, by action: written (changed since the last checkpoint) or reused.
    public let checkpointRowChunks = LabeledCounter(labelNames: ["action"])
    public let checkpointDuration = Histogram(bounds: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60])
    public let recoveryDuration = Gauge()
    public let recoveryFramesReplayed = Gauge()
    public let walInvalidFrames = LabeledCounter(labelNames: ["reason"])
    /// Pending operations the builder linked into the index.
    public let linked = Counter()
    /// Seconds of one builder step (plan and apply of up to its batch of records).
    public let linkDuration = Histogram(bounds: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1])
    /// Writes refused because the pending tail stayed full.
    public let pendingFullRejections = Counter()

    public init() {}
}

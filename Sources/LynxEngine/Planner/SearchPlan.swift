/// How a search ran: what the planner chose, and the estimate it chose by.
public struct SearchPlan: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The filter's candidates (from the metadata indexes, or every record's metadata when forced) were checked
        /// against the filter and the matches scored exactly: recall 1.
        case exact
        /// HNSW's graph traversal with the filter inside it.
        case graph
        /// The index's own search with the filter inside it, for Flat (an exact scan) and IVF.
        case scan
        /// No filter.
        case unfiltered
    }

    public let kind: Kind
    /// How many records the metadata indexes say the filter can match (an upper bound, exact up to the planner's
    /// threshold, extrapolated above it); nil when they cannot tell (no filter, or conditions on unindexed fields).
    public let estimatedMatches: Int?

    public init(kind: Kind, estimatedMatches: Int?) {
        self.kind = kind
        self.estimatedMatches = estimatedMatches
    }
}

/// Which plan a filtered search should take. `exact` and `index` are diagnostics (benchmarks, tests): they force
/// one plan whatever the estimate.
public enum SearchPlanChoice: Sendable, Equatable {
    /// The planner's choice.
    case automatic
    /// Score the filter's matches exactly. When neither the indexes nor the metadata can list them (a filter
    /// that matches records without metadata and names no indexed field), the index's own search runs instead.
    case exact
    /// The index's own filtered search (the graph traversal for HNSW).
    case index
}

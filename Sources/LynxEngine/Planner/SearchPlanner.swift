import LynxIndex

/// Chooses how a filtered search runs (docs/METADATA_INDEXES.md, "Planning"): when the metadata indexes put the
/// filter's matches at `exactUpTo` records or fewer, they are checked and scored exactly; otherwise the index
/// searches with the filter inside (HNSW: the graph traversal, with a beam widened as the filter narrows).
struct SearchPlanner {
    let exactUpTo: Int

    /// A plan and, for `.exact`, the records that match.
    struct Decision {
        let plan: SearchPlan
        let matches: [UInt64]
    }

    /// Call under the state's read lock.
    func decide(_ filter: Filter?, choice: SearchPlanChoice, state: StoreState, indexKind: IndexKind) -> Decision {
        guard let filter else { return Decision(plan: SearchPlan(kind: .unfiltered, estimatedMatches: nil), matches: []) }
        let estimator = FilterEstimator(indexes: state.metadataIndexes, exactUpTo: exactUpTo)
        let estimate = estimator.estimate(filter)
        let indexPlan = SearchPlan(kind: indexKind == .hnsw ? .graph : .scan, estimatedMatches: estimate)
        switch choice {
        case .index:
            return Decision(plan: indexPlan, matches: [])
        case .automatic:
            guard let estimate, estimate <= exactUpTo, let candidates = estimator.candidates(filter) else {
                return Decision(plan: indexPlan, matches: [])
            }
            return Decision(plan: SearchPlan(kind: .exact, estimatedMatches: estimate),
                            matches: Self.matching(filter, among: candidates, state))
        case .exact:
            if let candidates = estimator.candidates(filter) {
                return Decision(plan: SearchPlan(kind: .exact, estimatedMatches: estimate),
                                matches: Self.matching(filter, among: candidates, state))
            }
            // Without an index's answer, every record with metadata is a candidate, unless the filter matches
            // records without metadata too (then the metadata map does not list every match).
            guard !filter.matches(nil) else { return Decision(plan: indexPlan, matches: []) }
            return Decision(plan: SearchPlan(kind: .exact, estimatedMatches: estimate),
                            matches: Self.matching(filter, among: state.metadata.keys, state))
        }
    }

    /// The candidates that pass `filter` (all of them when the indexes said they are exact).
    private static func matching(_ filter: Filter, among candidates: (ids: Set<UInt64>, exact: Bool), _ state: StoreState) -> [UInt64] {
        candidates.exact ? Array(candidates.ids) : matching(filter, among: candidates.ids, state)
    }

    /// The ids among `candidates` whose metadata passes `filter`.
    private static func matching(_ filter: Filter, among candidates: some Sequence<UInt64>, _ state: StoreState) -> [UInt64] {
        candidates.filter { id in state.metadata[id].map { filter.matches($0.document) } ?? false }
    }

    /// The search parameters for a filtered graph traversal. The traversal collects only matching nodes but its
    /// beam of `ef` candidates still fills with non-matching ones, so with few matches it stops before finding
    /// the nearest: the beam widens in inverse proportion to the estimated share of matches.
    static func graphParams(_ params: SearchParams, defaultEf: Int, k: Int, estimate: Int?, count: Int) -> SearchParams {
        guard let estimate, count > 0 else { return params }
        let share = max(Double(estimate) / Double(count), 1e-6)
        let ef = max(params.efSearch ?? defaultEf, k)
        var widened = params
        widened.efSearch = min(count, Int((Double(ef) / share.squareRoot()).rounded(.up)))
        return widened
    }
}

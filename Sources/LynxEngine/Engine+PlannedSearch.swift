import LynxIndex

/// A search's results and the plan that produced them.
public struct SearchAnswer: Sendable {
    public let items: [SearchResultItem]
    public let plan: SearchPlan
}

/// Several searches' results (one list per query, in order) and the one plan they shared.
public struct BatchSearchAnswer: Sendable {
    public let lists: [[SearchResultItem]]
    public let plan: SearchPlan
}

extension Engine {
    /// The `k` nearest records that pass `filter` (nil: every record), by the plan `SearchPlanner` chooses
    /// (or `plan` forces). Same concurrency as the other reads. The vectors and metadata copied for the answer
    /// are counted against `budget`.
    public func search(
        _ query: [Float], k: Int, params: SearchParams, filter: Filter?, plan choice: SearchPlanChoice,
        includeMetadata: Bool, includeVector: Bool, budget: ReadBudget = .unlimited
    ) throws -> SearchAnswer {
        try checkReadable()
        try validate(query, field: .query(0))
        metrics.searches.add()
        var budget = budget
        return try stateLock.read {
            let decision = planner.decide(filter, choice: choice, state: state, indexKind: indexKind)
            metrics.searchPlans.add([decision.plan.kind.rawValue])
            let hits = query.withUnsafeBufferPointer { run(decision, filter, $0, k: k, params: params) }
            return SearchAnswer(
                items: try items(hits, includeMetadata: includeMetadata, includeVector: includeVector, budget: &budget),
                plan: decision.plan)
        }
    }

    /// Several searches with one filter, planned once, answered under one read lock; one `budget` for all.
    public func search(
        batch queries: [[Float]], k: Int, params: SearchParams, filter: Filter?, plan choice: SearchPlanChoice,
        includeMetadata: Bool, includeVector: Bool, budget: ReadBudget = .unlimited
    ) throws -> BatchSearchAnswer {
        try checkReadable()
        for (i, query) in queries.enumerated() { try validate(query, field: .query(i)) }
        metrics.searches.add(UInt64(queries.count))
        var budget = budget
        return try stateLock.read {
            let decision = planner.decide(filter, choice: choice, state: state, indexKind: indexKind)
            metrics.searchPlans.add([decision.plan.kind.rawValue], UInt64(queries.count))
            let lists: [[SearchHit]]
            if decision.plan.kind == .exact {
                lists = queries.map { query in query.withUnsafeBufferPointer { run(decision, filter, $0, k: k, params: params) } }
            } else {
                let packed = Array(queries.joined())
                lists = packed.withUnsafeBufferPointer {
                    state.search(batch: $0, count: queries.count, k: k, params: indexParams(decision, params, k: k),
                                 filter: filter.map(predicate))
                }
            }
            var answers: [[SearchResultItem]] = []
            answers.reserveCapacity(lists.count)
            for hits in lists {
                answers.append(try items(hits, includeMetadata: includeMetadata, includeVector: includeVector, budget: &budget))
            }
            return BatchSearchAnswer(lists: answers, plan: decision.plan)
        }
    }

    var planner: SearchPlanner { SearchPlanner(exactUpTo: config.exactPlanMaxMatches) }

    /// Runs one query by `decision`. Call under the state's read lock.
    private func run(_ decision: SearchPlanner.Decision, _ filter: Filter?, _ query: UnsafeBufferPointer<Float>,
                     k: Int, params: SearchParams) -> [SearchHit] {
        switch decision.plan.kind {
        case .exact:
            return state.nearest(query, k: k, among: decision.matches)
        case .graph, .scan, .unfiltered:
            return state.search(query, k: k, params: indexParams(decision, params, k: k), filter: filter.map(predicate))
        }
    }

    private func indexParams(_ decision: SearchPlanner.Decision, _ params: SearchParams, k: Int) -> SearchParams {
        guard decision.plan.kind == .graph else { return params }
        return SearchPlanner.graphParams(params, defaultEf: config.hnswEfSearch, k: k,
                                         estimate: decision.plan.estimatedMatches, count: state.count)
    }

    /// `filter` as an id predicate over the records' metadata. Call under the state's read lock.
    private func predicate(_ filter: Filter) -> (UInt64) -> Bool {
        let metadata = state.metadata
        return { id in filter.matches(metadata[id]?.document) }
    }
}

/// What the metadata indexes can say about a filter: how many records it can match, and which.
///
/// Both answers are supersets: a condition an index answers yields every record it can match (and perhaps more);
/// an `and` is answered by its most selective answerable part; an `or` only when every part is answerable; a
/// `not`, and any condition on an unindexed field, not at all. The caller checks each candidate against the filter.
struct FilterEstimator {
    let indexes: MetadataIndexes
    /// Counts are exact up to this, estimated above.
    let exactUpTo: Int

    /// An upper bound on the records `filter` matches; nil when the indexes cannot tell.
    func estimate(_ filter: Filter) -> Int? {
        switch filter {
        case .condition(let path, let condition):
            return indexes[path]?.count(condition, limit: exactUpTo)
        case .and(let parts):
            return parts.compactMap(estimate).min()
        case .or(let parts):
            var total = 0
            for part in parts {
                guard let n = estimate(part) else { return nil }
                total += n
            }
            return total
        case .not:
            return nil
        }
    }

    /// The records `filter` can match (a superset; `exact`: exactly the matches, nothing to check); nil when the
    /// indexes cannot tell.
    func candidates(_ filter: Filter) -> (ids: Set<UInt64>, exact: Bool)? {
        switch filter {
        case .condition(let path, let condition):
            guard let index = indexes[path], let ids = index.candidates(condition) else { return nil }
            // A record filed under a value the condition matches does match it; only the "others" need a check.
            return (ids, index.others.isEmpty)
        case .and(let parts):
            let best = parts.compactMap { part in estimate(part).map { (part, $0) } }.min { $0.1 < $1.1 }
            return best.flatMap { candidates($0.0) }.map { ($0.ids, $0.exact && parts.count == 1) }
        case .or(let parts):
            var union = Set<UInt64>()
            var exact = true
            for part in parts {
                guard let answer = candidates(part) else { return nil }
                union.formUnion(answer.ids)
                exact = exact && answer.exact
            }
            return (union, exact)
        case .not:
            return nil
        }
    }
}

/// One metadata index: for each value of its type found at its field (the scalar there, or an element of the array
/// there), the ids of the records that hold it; and `others`, the records whose field holds a value of another type.
///
/// Its answers are candidate sets: every record a condition on the field can match is in the set (`others` are in
/// every set: the index cannot tell what they match), and the caller checks each candidate against the whole filter.
/// A value: copy-on-write like the rest of `StoreState`.
struct FieldIndex {
    let path: FieldPath
    let type: MetadataIndexType
    private(set) var postings: [FieldValue: Set<UInt64>] = [:]
    /// The keys of `postings` in order (ordered types only), for range conditions.
    private var ordered: [FieldValue] = []
    /// id → the values it is filed under (to unfile it on replace and delete).
    private var valuesOf: [UInt64: [FieldValue]] = [:]
    private(set) var others: Set<UInt64> = []

    init(path: FieldPath, type: MetadataIndexType) {
        self.path = path
        self.type = type
    }

    /// An index over the records of `documents` (id → metadata document), built in one pass and sorted once.
    init(path: FieldPath, type: MetadataIndexType, documents: some Sequence<(UInt64, FieldValue)>) {
        self.init(path: path, type: type)
        for (id, document) in documents { file(id, document, keepOrder: false) }
        if type.isOrdered { ordered = postings.keys.sorted { Self.order($0, $1) < 0 } }
    }

    var indexedRecords: Int { valuesOf.count }
    var distinctValues: Int { postings.count }

    // MARK: - Maintenance

    /// Files `id` under its document's values at the field (`document` nil: the record has no metadata).
    mutating func insert(_ id: UInt64, _ document: FieldValue?) {
        if let document { file(id, document, keepOrder: true) }
    }

    mutating func remove(_ id: UInt64) {
        others.remove(id)
        guard let values = valuesOf.removeValue(forKey: id) else { return }
        for value in values {
            postings[value]!.remove(id)
            if postings[value]!.isEmpty {
                postings.removeValue(forKey: value)
                if type.isOrdered { ordered.remove(at: position(of: value)) }
            }
        }
    }

    private mutating func file(_ id: UInt64, _ document: FieldValue, keepOrder: Bool) {
        guard let found = document.value(at: path) else { return }
        let elements: [FieldValue]
        if case .array(let a) = found { elements = a } else { elements = [found] }
        var held: [FieldValue] = []
        for element in elements {
            guard type.holds(element) else { others.insert(id); continue }
            if held.contains(element) { continue }
            held.append(element)
            if postings[element, default: []].insert(id).inserted, postings[element]!.count == 1, keepOrder, type.isOrdered {
                ordered.insert(element, at: position(of: element))
            }
        }
        if !held.isEmpty { valuesOf[id] = held }
    }

    /// Where `value` is or would go in `ordered`.
    private func position(of value: FieldValue) -> Int {
        var lo = 0, hi = ordered.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.order(ordered[mid], value) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The order of two keys of one ordered index (never across kinds: an index holds numbers or strings).
    private static func order(_ a: FieldValue, _ b: FieldValue) -> Int { Condition.order(a, b) ?? 0 }

    // MARK: - Answers

    /// The candidates for `condition` on the field; nil when the index cannot answer it (`ne`, `nin`, `exists`:
    /// they match records without the field, which no index lists).
    func candidates(_ condition: Condition) -> Set<UInt64>? {
        guard let keys = keys(condition) else { return nil }
        var out = others
        for key in keys { out.formUnion(postings[key]!) }
        return out
    }

    /// How many candidates `candidates(condition)` holds, counted exactly up to `limit` and estimated above it
    /// (from the share of the keys counted); nil when the index cannot answer.
    func count(_ condition: Condition, limit: Int) -> Int? {
        guard let keys = keys(condition) else { return nil }
        var n = others.count
        var seen = 0
        for key in keys {
            n += postings[key]!.count
            seen += 1
            if n > limit && seen < keys.count { return n * keys.count / seen }
        }
        return n
    }

    /// The keys whose records a condition can match (duplicates possible with `in`).
    private func keys(_ condition: Condition) -> AnyCollection<FieldValue>? {
        switch condition {
        case .eq(let v): return AnyCollection(postings[v] == nil ? [] : [v])
        case .in(let vs): return AnyCollection(Set(vs).filter { postings[$0] != nil })
        case .gt(let v): return range(v) { $0 > 0 }
        case .gte(let v): return range(v) { $0 >= 0 }
        case .lt(let v): return range(v) { $0 < 0 }
        case .lte(let v): return range(v) { $0 <= 0 }
        case .ne, .nin, .exists: return nil
        }
    }

    /// The ordered keys `key` for which `test(order(key, bound))` holds: a prefix or a suffix of `ordered`. Empty
    /// when the bound is of another kind than the keys (values of different kinds never order).
    private func range(_ bound: FieldValue, _ test: @escaping (Int) -> Bool) -> AnyCollection<FieldValue> {
        guard type.isOrdered, let first = ordered.first, Condition.order(first, bound) != nil else { return AnyCollection([]) }
        var lo = 0, hi = ordered.count
        let prefix = test(-1)  // lt/lte hold for small keys: the answer is a prefix
        // Binary search for the boundary: in a prefix answer, the first key failing; in a suffix, the first passing.
        while lo < hi {
            let mid = (lo + hi) / 2
            if test(Self.order(ordered[mid], bound)) == prefix { lo = mid + 1 } else { hi = mid }
        }
        return AnyCollection(prefix ? ordered[..<lo] : ordered[lo...])
    }
}

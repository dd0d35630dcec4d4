import LynxIndex

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
    /// Every (value, id) of `postings` in value order, then id order (ordered types only): a range condition is
    /// one slice of it, counted in O(log n).
    private var ordered: [Entry] = []

    private struct Entry {
        let value: FieldValue
        let id: UInt64
    }
    /// id → the values it is filed under (to unfile it on replace and delete).
    private var valuesOf: [UInt64: [FieldValue]] = [:]
    private(set) var others: Set<UInt64> = []
    /// (value, id) pairs in `postings`, and the heap of the distinct values (`FieldValue.heapBytes`): kept as
    /// values come and go, so the memory estimate does not walk the postings.
    private var filed = 0
    private var valueHeapBytes = 0

    init(path: FieldPath, type: MetadataIndexType) {
        self.path = path
        self.type = type
    }

    /// An index over the records of `documents` (id → metadata document), built in one pass and sorted once.
    init(path: FieldPath, type: MetadataIndexType, documents: some Sequence<(UInt64, FieldValue)>) {
        self.init(path: path, type: type)
        for (id, document) in documents { file(id, document, keepOrder: false) }
        if type.isOrdered { ordered.sort { Self.before($0, $1) } }
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
        filed -= values.count
        for value in values {
            postings[value]!.remove(id)
            if postings[value]!.isEmpty {
                postings.removeValue(forKey: value)
                valueHeapBytes -= value.heapBytes
            }
            if type.isOrdered { ordered.remove(at: position(of: Entry(value: value, id: id))) }
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
            if postings[element] == nil { valueHeapBytes += element.heapBytes }
            postings[element, default: []].insert(id)
            if type.isOrdered {
                let entry = Entry(value: element, id: id)
                if keepOrder { ordered.insert(entry, at: position(of: entry)) } else { ordered.append(entry) }
            }
        }
        if !held.isEmpty { valuesOf[id] = held }
        filed += held.count
    }

    /// The heap it holds, estimated: each (value, id) pair in a posting set, in `ordered` and in `valuesOf`, the
    /// sets' and arrays' headers, the distinct values' own storage, and the dictionaries' buckets.
    var memoryBytes: Int {
        let valueStride = MemoryLayout<FieldValue>.stride
        var bytes = dictionaryBytes(capacity: postings.capacity, keyBytes: valueStride, valueBytes: 8)
            + postings.count * 32 + filed * 8 * 4 / 3 + valueHeapBytes  // a set per value; its buckets; the values
        bytes += ordered.capacity * MemoryLayout<Entry>.stride
        bytes += dictionaryBytes(capacity: valuesOf.capacity, keyBytes: 8, valueBytes: 8)
            + valuesOf.count * 32 + filed * valueStride  // an array per id
        bytes += others.capacity * 8 * 4 / 3
        return bytes
    }

    /// Where `entry` is or would go in `ordered` (an O(n) insert or removal there: fine for the stores this
    /// serves, a B-tree's job beyond).
    private func position(of entry: Entry) -> Int {
        var lo = 0, hi = ordered.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.before(ordered[mid], entry) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private static func before(_ a: Entry, _ b: Entry) -> Bool {
        let o = Condition.order(a.value, b.value) ?? 0  // never across kinds: an index holds numbers or strings
        return o < 0 || (o == 0 && a.id < b.id)
    }

    // MARK: - Answers

    /// The candidates for `condition` on the field; nil when the index cannot answer it (`ne`, `nin`, `exists`:
    /// they match records without the field, which no index lists).
    func candidates(_ condition: Condition) -> Set<UInt64>? {
        switch answer(condition) {
        case nil: return nil
        case .keys(let keys):
            if others.isEmpty && keys.count == 1 { return postings[keys[0]]! }  // no copy
            var out = others
            for key in keys { out.formUnion(postings[key]!) }
            return out
        case .slice(let range):
            var out = others
            out.reserveCapacity(others.count + range.count)
            for i in range { out.insert(ordered[i].id) }
            return out
        }
    }

    /// How many candidates `candidates(condition)` holds at most (a record filed under several matching values
    /// counts once for each), counted exactly up to `limit` and estimated above it (from the share of the keys
    /// counted); nil when the index cannot answer.
    func count(_ condition: Condition, limit: Int) -> Int? {
        switch answer(condition) {
        case nil: return nil
        case .slice(let range): return others.count + range.count
        case .keys(let keys):
            var n = others.count
            for (seen, key) in keys.enumerated() {
                n += postings[key]!.count
                if n > limit && seen + 1 < keys.count { return n * keys.count / (seen + 1) }
            }
            return n
        }
    }

    /// Where the records a condition can match are filed: under some keys of `postings` (equalities), or in a
    /// slice of `ordered` (ranges).
    private enum Answer {
        case keys([FieldValue])
        case slice(Range<Int>)
    }

    private func answer(_ condition: Condition) -> Answer? {
        switch condition {
        case .eq(let v): return .keys(postings[v] == nil ? [] : [v])
        case .in(let vs): return .keys(Array(vs.filter { postings[$0] != nil }))
        case .gt(let v): return range(v) { $0 > 0 }
        case .gte(let v): return range(v) { $0 >= 0 }
        case .lt(let v): return range(v) { $0 < 0 }
        case .lte(let v): return range(v) { $0 <= 0 }
        case .ne, .nin, .exists: return nil
        }
    }

    /// The entries whose value `v` passes `test(order(v, bound))`: a prefix or a suffix of `ordered`. Empty when
    /// the bound is of another kind than the values (values of different kinds never order).
    private func range(_ bound: FieldValue, _ test: (Int) -> Bool) -> Answer {
        guard type.isOrdered, let first = ordered.first, Condition.order(first.value, bound) != nil else { return .slice(0..<0) }
        let prefix = test(-1)  // lt/lte hold for small values: the answer is a prefix
        // Binary search for the boundary: in a prefix answer, the first entry failing; in a suffix, the first passing.
        var lo = 0, hi = ordered.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if test(Condition.order(ordered[mid].value, bound) ?? 0) == prefix { lo = mid + 1 } else { hi = mid }
        }
        return .slice(prefix ? 0..<lo : lo..<ordered.count)
    }
}

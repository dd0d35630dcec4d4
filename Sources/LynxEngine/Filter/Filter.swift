/// A path into a record's metadata: object member names from the top level down (`a.b` is `["a", "b"]`).
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public var components: [String]

    public init(_ components: [String]) { self.components = components }

    /// Splits a dotted path (`"a.b"`). Member names that contain a dot cannot be addressed.
    public init(dotted: String) { components = dotted.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }

    public var description: String { components.joined(separator: ".") }
}

/// A filter over records' metadata, as the engine evaluates it. The HTTP layer builds it from JSON.
///
/// Semantics (docs/FILTERS.md is the reference):
/// - A condition on a path that does not resolve matches nothing, except `$ne`, `$nin` and `exists(false)`,
///   which are the negations of `$eq`, `$in` and `exists(true)`.
/// - `eq`, `in` and the order comparisons look at the value at the path, or, when it is an array, at each of its
///   elements: one matching element is enough.
/// - Values of different kinds never compare equal and never order (numbers are one kind: 1 equals 1.0); order
///   comparisons are defined for numbers and for strings (Swift's `String` order: Unicode canonical
///   equivalence, so equal strings never order apart).
/// - An empty `and` matches every record; an empty `or` matches none.
public indirect enum Filter: Sendable, Hashable {
    case and([Filter])
    case or([Filter])
    case not(Filter)
    case condition(FieldPath, Condition)

    /// Every record.
    public static let all = Filter.and([])
}

/// One test of the value at a path. Operands are scalars (`FieldValue.isScalar`). `$in`/`$nin` hold a set, built
/// once when the filter is made, so a record's test costs one lookup whatever the number of members; a set
/// agrees with the list it came from because `FieldValue` hashes equal values (1 and 1.0) alike.
public enum Condition: Sendable, Hashable {
    case eq(FieldValue)
    case ne(FieldValue)
    case gt(FieldValue)
    case gte(FieldValue)
    case lt(FieldValue)
    case lte(FieldValue)
    case `in`(Set<FieldValue>)
    case nin(Set<FieldValue>)
    case exists(Bool)
}

/// A JSON object: its members in source order.
///
/// The parser guarantees that keys are unique (documents with duplicate keys are rejected).
/// Code that builds a `JSONObject` by hand is expected to keep keys unique too.
///
/// Equality treats objects as maps: two objects are equal when they have the same number of members,
/// the same set of keys, and equal values under each key. Member order does not matter.
///
/// Lookup by key is a linear scan, which is fastest for the small objects of request bodies.
public struct JSONObject: Equatable, Sendable {
    /// Members in source (insertion) order.
    public var members: [(key: String, value: JSONValue)]

    @inlinable
    public init(members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    /// The number of members.
    @inlinable public var count: Int { members.count }

    @inlinable public var isEmpty: Bool { members.isEmpty }

    /// The keys in source order.
    @inlinable public var keys: [String] { members.map { $0.key } }

    /// The value of the member named `key`, or `nil` when there is none.
    @inlinable
    public subscript(key: String) -> JSONValue? {
        for m in members where m.key == key { return m.value }
        return nil
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        // Fast path: same key order (the common case for round trips).
        var sameOrder = true
        for i in 0..<lhs.members.count {
            let a = lhs.members[i], b = rhs.members[i]
            if a.key != b.key { sameOrder = false; break }
            if a.value != b.value { return false }
        }
        if sameOrder { return true }
        for a in lhs.members {
            guard let bv = rhs[a.key], bv == a.value else { return false }
        }
        return true
    }
}

/// A metadata value as the engine sees it: the typed form of a record's metadata and of a filter's operands.
///
/// Numbers are `.int` when they are integers in `Int64`'s range (compared exactly, never through `Double`) and
/// `.double` otherwise; an `.int` and a `.double` compare by exact numeric value. Objects keep their members'
/// order as given.
public enum FieldValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([FieldValue])
    case object([(key: String, value: FieldValue)])

    public static func == (a: FieldValue, b: FieldValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double):
            return FieldValue.compareNumbers(a, b) == 0
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        // Equal numbers must hash alike: an integral double in Int64's range hashes as that integer.
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .double(let d):
            if let i = Int64(exactly: d) { hasher.combine(2); hasher.combine(i) } else { hasher.combine(3); hasher.combine(d) }
        case .string(let s): hasher.combine(4); hasher.combine(s)
        case .array(let a): hasher.combine(5); hasher.combine(a)
        case .object(let o):
            hasher.combine(6)
            for (k, v) in o { hasher.combine(k); hasher.combine(v) }
        }
    }

    /// -1, 0 or 1 for two numbers (`.int` or `.double`), exactly: an `Int64` is never rounded to a `Double`.
    /// nil when either is not a number or is NaN.
    public static func compareNumbers(_ a: FieldValue, _ b: FieldValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.double(let x), .double(let y)):
            if x.isNaN || y.isNaN { return nil }
            return x < y ? -1 : (x == y ? 0 : 1)
        case (.int(let x), .double(let y)): return compare(x, y)
        case (.double(let x), .int(let y)): return compare(y, x).map { -$0 }
        default: return nil
        }
    }

    /// Compares an integer with a double without rounding the integer.
    private static func compare(_ i: Int64, _ d: Double) -> Int? {
        if d.isNaN { return nil }
        if d >= 9_223_372_036_854_775_808.0 { return -1 }   // 2^63: above every Int64
        if d < -9_223_372_036_854_775_808.0 { return 1 }
        let t = d.rounded(.down)                             // in Int64's range now, exactly representable
        let ti = Int64(t)
        if i < ti { return -1 }
        if i > ti { return 1 }
        return d > t ? -1 : 0
    }

    /// True for the scalar kinds (everything but arrays and objects).
    public var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    /// The member at `path` (object members, one component per level); nil when any step is missing or not an
    /// object.
    public func value(at path: FieldPath) -> FieldValue? {
        var current = self
        for component in path.components {
            guard case .object(let members) = current,
                  let next = members.first(where: { $0.key == component })?.value else { return nil }
            current = next
        }
        return current
    }
}

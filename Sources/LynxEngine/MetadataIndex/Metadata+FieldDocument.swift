import LynxJSON

extension Metadata {
    /// The metadata as a typed document, for filters and metadata indexes. Integers in `Int64`'s range are `.int`,
    /// every other number its `.double`.
    var fieldDocument: FieldValue { Self.fieldValue(.object(object)) }

    private static func fieldValue(_ value: JSONValue) -> FieldValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n): return n.isInteger ? n.int64.map(FieldValue.int) ?? .double(n.double) : .double(n.double)
        case .string(let s): return .string(s)
        case .array(let elements): return .array(elements.map(fieldValue))
        case .object(let o): return .object(o.members.map { ($0.key, fieldValue($0.value)) })
        }
    }
}

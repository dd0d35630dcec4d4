/// A parsed JSON document.
///
/// Values are immutable snapshots; `JSONValue` is `Sendable` and may be passed between threads freely.
/// Equality is structural: numbers compare by value (see `JSONNumber`), objects compare as maps
/// (see `JSONObject`), arrays compare element by element in order.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    /// The member named `key` when this is an object, else `nil`.
    @inlinable
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    @inlinable public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    @inlinable public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    @inlinable public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    @inlinable public var numberValue: JSONNumber? { if case .number(let n) = self { return n }; return nil }
    @inlinable public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    @inlinable public var isNull: Bool { if case .null = self { return true }; return false }

    /// A short name of the value's JSON type ("null", "boolean", "number", "string", "array", "object"),
    /// for error messages such as "expected a number, got a string".
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value serialised as compact JSON (via `JSONWriter`).
    public var description: String {
        var w = JSONWriter()
        w.write(self)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

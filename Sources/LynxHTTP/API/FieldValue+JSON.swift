import LynxEngine
import LynxJSON

extension FieldValue {
    /// The typed form of a request's JSON value. Integer literals in `Int64`'s range are `.int`, exactly; every
    /// other number, integers beyond `Int64` included, is its nearest `.double` (the engine types stored
    /// metadata by the same rule, so a record and a filter agree).
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n): self = n.isInteger ? n.int64.map(FieldValue.int) ?? .double(n.double) : .double(n.double)
        case .string(let s): self = .string(s)
        case .array(let elements): self = .array(elements.map(FieldValue.init))
        case .object(let object): self = .object(object.members.map { ($0.key, FieldValue($0.value)) })
        }
    }
}

extension Metadata {
    /// A request's metadata object: typed for filters, and written as the compact JSON text the engine keeps.
    init(_ object: JSONObject) {
        var writer = JSONWriter(capacity: 64)
        writer.write(.object(object))
        self.init(document: FieldValue(.object(object)), json: writer.bytes)
    }
}

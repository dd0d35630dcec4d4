import LynxJSON

/// One stored item: an id, its vector exactly as given, and optional metadata.
public struct VectorRecord: Sendable {
    public var id: UInt64
    public var vector: [Float]
    public var metadata: Metadata?

    public init(id: UInt64, vector: [Float], metadata: Metadata? = nil) {
        self.id = id
        self.vector = vector
        self.metadata = metadata
    }
}

/// A record's metadata: the typed document (an `.object`, for filters) and its compact JSON text (logged,
/// snapshotted and returned as it is).
public struct Metadata: Sendable {
    public let document: FieldValue
    public let json: [UInt8]

    /// `document` must be an `.object` and `json` its compact JSON text: the caller, which parsed the JSON,
    /// holds both already.
    public init(document: FieldValue, json: [UInt8]) {
        self.document = document
        self.json = json
    }

    /// Rebuilds metadata from its stored JSON text (log replay, snapshot load).
    public init(json: [UInt8]) throws {
        let document: FieldValue
        do {
            document = try JSONReader.read(json) { (r: inout JSONReader) throws(JSONParseError) -> FieldValue in
                let value = try Self.storedValue(&r)
                try r.end()
                return value
            }
        } catch {
            throw EngineError.internalError("stored metadata is not valid JSON: \(error)")
        }
        guard case .object = document else { throw EngineError.internalError("stored metadata is not a JSON object") }
        self.document = document
        self.json = json
    }

    /// Reads one stored value straight into a `FieldValue`, without a JSON tree. Integers in `Int64`'s range are
    /// `.int`, every other number is its nearest `.double` (the HTTP layer types request JSON the same way).
    private static func storedValue(_ r: inout JSONReader) throws(JSONParseError) -> FieldValue {
        if try r.beginObject() {
            var members: [(key: String, value: FieldValue)] = []
            while let key = try r.nextKey() { members.append((key, try storedValue(&r))) }
            return .object(members)
        }
        if try r.beginArray() {
            var elements: [FieldValue] = []
            while try r.nextElement() { elements.append(try storedValue(&r)) }
            return .array(elements)
        }
        switch try r.value() {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n): return n.isInteger ? n.int64.map(FieldValue.int) ?? .double(n.double) : .double(n.double)
        case .string(let s): return .string(s)
        case .array, .object: preconditionFailure("containers are read above")
        }
    }
}

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

/// A record's metadata: the parsed object (for filters) and its compact JSON text (logged, snapshotted, returned).
public struct Metadata: Sendable {
    public let object: JSONObject
    public let json: [UInt8]

    public init(object: JSONObject) {
        self.object = object
        var writer = JSONWriter(capacity: 64)
        writer.write(.object(object))
        self.json = writer.bytes
    }

    /// Rebuilds metadata from its stored JSON text (log replay, snapshot load).
    public init(json: [UInt8]) throws {
        guard case .object(let object) = try JSONParser.parse(json) else {
            throw EngineError.internalError("stored metadata is not a JSON object")
        }
        self.object = object
        self.json = json
    }

    /// True when every key of `filter` exists in this object's top level with an equal scalar value.
    public func matches(_ filter: [(key: String, value: JSONValue)]) -> Bool {
        for (key, wanted) in filter {
            guard let actual = object[key], actual == wanted else { return false }
        }
        return true
    }
}

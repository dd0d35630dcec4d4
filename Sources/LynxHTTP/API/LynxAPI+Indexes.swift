import LynxEngine
import LynxJSON
import LynxTransport

/// `PUT/GET/DELETE /indexes/{field}` and `GET /indexes`: the metadata indexes of one store
/// (docs/METADATA_INDEXES.md). Each handler takes the engine it acts on, so any route prefix can mount them.
extension LynxAPI {
    /// The field path of `/indexes/{field}` (dotted: `meta.year`).
    static func indexedField(_ captures: PathCaptures) -> FieldPath { FieldPath(dotted: String(captures["field"])) }

    /// `PUT /indexes/{field}` with `{"type": ...}`: 201 when built, 200 when an index of that type was there.
    static func createIndex(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        let field = indexedField(captures)
        let durable = try RequestDecoder.durableFlag(request)
        let type = try RequestDecoder.metadataIndexType(RequestDecoder.json(request))
        let outcome = try api.engineCall { try engine.createMetadataIndex(field, type: type) }
        switch outcome {
        case .existed:
            return .now(Responses.object { w in
                w.key("field"); w.string(field.description)
                w.key("type"); w.string(type.rawValue)
                w.key("created"); w.bool(false)
            })
        case .created(let lsn):
            return api.acknowledge(engine, lsn: lsn, durable: durable, status: 201) { w, isDurable in
                w.key("field"); w.string(field.description)
                w.key("type"); w.string(type.rawValue)
                w.key("created"); w.bool(true)
                w.key("lsn"); w.uint64(lsn)
                w.key("durable"); w.bool(isDurable)
            }
        }
    }

    /// `DELETE /indexes/{field}`: 404 when the field has no index.
    static func dropIndex(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        let field = indexedField(captures)
        let durable = try RequestDecoder.durableFlag(request)
        let lsn = try api.engineCall { try engine.dropMetadataIndex(field) }
        return api.acknowledge(engine, lsn: lsn, durable: durable) { w, isDurable in
            w.key("dropped"); w.string(field.description)
            w.key("lsn"); w.uint64(lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    /// `GET /indexes/{field}`: 404 when the field has no index.
    static func describeIndex(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let field = indexedField(captures)
        guard let info = engine.metadataIndexes.first(where: { $0.path == field }) else {
            throw Problem.notFound("the field \(field) has no metadata index")
        }
        return .now(Responses.object { w in Self.write(info, to: &w) })
    }

    /// `GET /indexes`: every index, in field order.
    static func listIndexes(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let infos = engine.metadataIndexes
        return .now(Responses.list("indexes", infos) { Self.write($0, to: &$1) })
    }

    private static func write(_ info: MetadataIndexInfo, to w: inout JSONWriter) {
        w.key("field"); w.string(info.path.description)
        w.key("type"); w.string(info.type.rawValue)
        w.key("indexed_records"); w.int(info.indexedRecords)
        w.key("distinct_values"); w.int(info.distinctValues)
        w.key("other_type_records"); w.int(info.otherRecords)
    }
}

extension RequestDecoder {
    /// The body of `PUT /indexes/{field}`: `{"type": "keyword" | "integer" | "float" | "bool"}`.
    static func metadataIndexType(_ body: JSONValue) throws(Problem) -> MetadataIndexType {
        let names = MetadataIndexType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard case .object(let object) = body else {
            throw Problem.invalidRequest("the body must be a JSON object {\"type\": one of \(names)}")
        }
        try onlyKeys(object, ["type"], path: "")
        guard let value = object["type"] else { throw Problem.invalidRequest("type: required, one of \(names)", field: "type") }
        guard case .string(let name) = value, let type = MetadataIndexType(rawValue: name) else {
            throw Problem.invalidRequest("type: expected one of \(names), got \(value)", field: "type")
        }
        return type
    }
}

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
        let wait = try RequestDecoder.writeWait(request)
        let type = try RequestDecoder.metadataIndexType(RequestDecoder.json(request))
        return try api.write(.createMetadataIndex(field, type), to: engine, wait: wait, created: true) { w, result, isDurable in
            w.key("field"); w.string(field.description)
            w.key("type"); w.string(type.rawValue)
            w.key("created"); w.bool(!result.acknowledgedAtOnce)
            guard !result.acknowledgedAtOnce else { return }  // the index was there: nothing was logged
            w.key("lsn"); w.uint64(result.lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    /// `DELETE /indexes/{field}`: 404 when the field has no index.
    static func dropIndex(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        let field = indexedField(captures)
        let wait = try RequestDecoder.writeWait(request)
        return try api.write(.dropMetadataIndex(field), to: engine, wait: wait) { w, result, isDurable in
            w.key("dropped"); w.string(field.description)
            w.key("lsn"); w.uint64(result.lsn)
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

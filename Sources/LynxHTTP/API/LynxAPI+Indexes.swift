import LynxEngine
import LynxJSON

/// `PUT/GET/DELETE /indexes/{field}` and `GET /indexes`: the metadata indexes of one store
/// (docs/METADATA_INDEXES.md). Each handler takes the engine it acts on, so any route prefix can mount them.
extension LynxAPI {
    static let indexesPrefix = "/indexes/"

    /// The field path of `/indexes/{field}` (dotted: `meta.year`).
    static func indexedField(_ path: String) -> FieldPath { FieldPath(dotted: String(path.dropFirst(indexesPrefix.count))) }

    /// `PUT /indexes/{field}` with `{"type": ...}`: 201 when built, 200 when an index of that type was there.
    func createIndex(_ request: HTTPRequest, on engine: Engine, field: FieldPath) throws(Problem) -> HandlerResult {
        let durable = try RequestDecoder.durableFlag(request)
        let type = try RequestDecoder.metadataIndexType(RequestDecoder.json(request))
        let outcome = try engineCall { try engine.createMetadataIndex(field, type: type) }
        switch outcome {
        case .existed:
            return .now(Responses.object { w in
                w.key("field"); w.string(field.description)
                w.key("type"); w.string(type.rawValue)
                w.key("created"); w.bool(false)
            })
        case .created(let lsn):
            return acknowledge(lsn: lsn, durable: durable, status: 201) { w, isDurable in
                w.key("field"); w.string(field.description)
                w.key("type"); w.string(type.rawValue)
                w.key("created"); w.bool(true)
                w.key("lsn"); w.uint64(lsn)
                w.key("durable"); w.bool(isDurable)
            }
        }
    }

    /// `DELETE /indexes/{field}`: 404 when the field has no index.
    func dropIndex(_ request: HTTPRequest, on engine: Engine, field: FieldPath) throws(Problem) -> HandlerResult {
        let durable = try RequestDecoder.durableFlag(request)
        let lsn = try engineCall { try engine.dropMetadataIndex(field) }
        return acknowledge(lsn: lsn, durable: durable) { w, isDurable in
            w.key("dropped"); w.string(field.description)
            w.key("lsn"); w.uint64(lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    /// `GET /indexes/{field}`: 404 when the field has no index.
    func describeIndex(on engine: Engine, field: FieldPath) throws(Problem) -> HTTPResponse {
        guard let info = engine.metadataIndexes.first(where: { $0.path == field }) else {
            throw Problem.notFound("the field \(field) has no metadata index")
        }
        return Responses.object { w in Self.write(info, to: &w) }
    }

    /// `GET /indexes`: every index, in field order.
    func listIndexes(on engine: Engine) -> HTTPResponse {
        let infos = engine.metadataIndexes
        return Responses.object { w in
            w.key("indexes")
            w.beginArray()
            for info in infos {
                w.beginObject()
                Self.write(info, to: &w)
                w.endObject()
            }
            w.endArray()
        }
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

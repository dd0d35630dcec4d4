import LynxEngine
import LynxJSON
import LynxSupport
import LynxTransport

/// A decoded `GET /vectors` query: `after`, `limit`, `include`.
struct PageRequest {
    var after: UInt64?
    var limit: Int
    var includeVector: Bool
    var includeMetadata: Bool
    var filter: Filter? = nil
}

/// What `POST /vectors/delete` deletes: the records with these ids, or those that pass a filter.
package enum DeleteSelection {
    case ids([UInt64])
    case filter(Filter)
}

extension RequestDecoder {
    static let defaultPageLimit = 100

    /// `after` (an id), `limit` (1 ... `maxBatch`, default 100), `include` (a comma-separated subset of
    /// `vector,metadata`, default both; empty for ids only). Each at most once; no other parameter.
    func page(_ request: HTTPRequest) throws(Problem) -> PageRequest {
        var page = PageRequest(after: nil, limit: Self.defaultPageLimit, includeVector: true, includeMetadata: true)
        var seen = Set<String>()
        for (name, value) in request.query {
            guard ["after", "limit", "include", "filter"].contains(name) else {
                throw Problem.invalidRequest("unknown query parameter '\(name)' (allowed: after, filter, include, limit)", field: name)
            }
            guard seen.insert(name).inserted else {
                throw Problem.invalidRequest("\(name): given more than once", field: name)
            }
            switch name {
            case "after":
                page.after = try Self.decimal(value, field: "after", what: "a vector id")
            case "filter":
                // The filter language of a search body, as JSON in the (percent-encoded) query parameter.
                let json: JSONValue
                do {
                    json = try JSONParser.parse(Array(value.utf8))
                } catch {
                    throw Problem.invalidRequest("filter: not valid JSON (\(error))", field: "filter")
                }
                page.filter = try FilterDecoder.decode(json, path: "filter")
            case "limit":
                let limit = try Self.decimal(value, field: "limit", what: "a page size")
                guard limit >= 1 && limit <= UInt64(maxBatch) else {
                    var p = Problem.outOfRange("limit: \(limit) is outside 1...\(maxBatch) (--max-batch)", field: "limit")
                    p.extra = [("limit", .number(JSONNumber(maxBatch)))]
                    throw p
                }
                page.limit = Int(limit)
            default:
                page.includeVector = false
                page.includeMetadata = false
                for part in value.split(separator: ",", omittingEmptySubsequences: false) where !value.isEmpty {
                    switch part {
                    case "vector": page.includeVector = true
                    case "metadata": page.includeMetadata = true
                    default:
                        throw Problem.invalidRequest(
                            "include: expected a comma-separated list of vector and metadata (or nothing), got '\(value)'", field: "include")
                    }
                }
            }
        }
        return page
    }

    /// Decimal digits only (no sign, no spaces, no leading zero: one spelling per value, as for path ids), 0 ... 2^64−1.
    static func decimal(_ text: String, field: String, what: String) throws(Problem) -> UInt64 {
        guard let n = UInt64(canonicalDecimal: text) else {
            throw Problem.invalidRequest("\(field): '\(text)' is not \(what): expected decimal digits without a leading zero, 0 to 18446744073709551615", field: field)
        }
        return n
    }

    /// `{"ids": [...]}` of `POST /vectors/get`.
    package func ids(_ body: JSONValue) throws(Problem) -> [UInt64] {
        let object = try Self.bodyObject(body, shape: #"{"ids": [...]}"#)
        try Self.onlyKeys(object, ["ids"], path: "")
        guard let value = object["ids"] else { throw Problem.invalidRequest("ids: required", field: "ids") }
        return try idList(value)
    }

    /// `{"ids": [...]}` or `{"filter": {...}}` of `POST /vectors/delete`: exactly one of them.
    package func deleteSelection(_ body: JSONValue) throws(Problem) -> DeleteSelection {
        let object = try Self.bodyObject(body, shape: #"{"ids": [...]} or {"filter": {...}}"#)
        try Self.onlyKeys(object, ["ids", "filter"], path: "")
        switch (object["ids"], object["filter"]) {
        case (let ids?, nil): return .ids(try idList(ids))
        case (nil, let filter?): return .filter(try FilterDecoder.decode(filter, path: "filter"))
        case (_?, _?): throw Problem.invalidRequest("filter: give ids or a filter, not both", field: "filter")
        case (nil, nil): throw Problem.invalidRequest("ids: required, or filter instead", field: "ids")
        }
    }

    /// The optional filter of `POST /count`: no body, `{}`, or `{"filter": ...}` (null: no filter).
    static func countFilter(_ request: HTTPRequest) throws(Problem) -> Filter? {
        if hasNoBody(request) { return nil }
        let object = try bodyObject(try json(request), shape: #"{"filter": {...}}"#)
        try onlyKeys(object, ["filter"], path: "")
        switch object["filter"] {
        case nil, .null?: return nil
        case let filter?: return try FilterDecoder.decode(filter, path: "filter")
        }
    }

    private static func bodyObject(_ body: JSONValue, shape: String) throws(Problem) -> JSONObject {
        guard case .object(let object) = body else {
            throw Problem.invalidRequest("the body must be a JSON object \(shape), got \(body.typeName)")
        }
        return object
    }

    /// 1 ... `maxBatch` ids (422 beyond), each an unsigned 64-bit integer, none twice (400 naming the repeat).
    private func idList(_ value: JSONValue) throws(Problem) -> [UInt64] {
        let items = try batchItems(value, field: "ids", noun: "id")
        var ids: [UInt64] = []
        ids.reserveCapacity(items.count)
        var seen = Set<UInt64>(minimumCapacity: items.count)
        for (i, item) in items.enumerated() {
            let id = try Self.id(item, field: "ids[\(i)]")
            guard seen.insert(id).inserted else {
                throw Problem.invalidRequest("ids[\(i)]: id \(id) appears twice in this list", field: "ids[\(i)]")
            }
            ids.append(id)
        }
        return ids
    }
}

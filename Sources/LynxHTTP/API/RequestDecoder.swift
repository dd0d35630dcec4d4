import LynxEngine
import LynxIndex
import LynxJSON
import LynxSupport
import LynxReplication
import LynxTransport

/// The members `POST /search` and `POST /search/batch` share: k, filter, ef_search, n_probe, rescore, oversample,
/// include.
package struct SearchOptions {
    package var k: Int
    package var filter: Filter?
    package var params: SearchParams
    package var includeMetadata: Bool
    package var includeVector: Bool
    /// Whether the answer says which plan ran (`"explain": true`).
    package var explain: Bool = false
    /// `"plan"`: a diagnostic that forces one plan.
    package var plan: SearchPlanChoice = .automatic
}

/// A decoded `POST /search` body.
package struct SearchRequest {
    package var vector: [Float]
    package var options: SearchOptions
}

/// A decoded `POST /search/batch` body: one or more query vectors (at most `--max-batch`), answered in order.
package struct BatchSearchRequest {
    package var queries: [[Float]]
    package var options: SearchOptions
}

/// Turns request bodies into engine calls, strictly: every rejection is a `Problem` that names the field.
/// Pure functions of the body and the limits; nothing here touches the store.
package struct RequestDecoder {
    let maxBatch: Int
    /// Most results one search request may ask for: queries times `k` (`--max-search-results`).
    let maxSearchResults: Int
    static let maxK = 1000
    static let maxEfSearch = 10_000
    static let maxNProbe = 65_536
    static let maxMetadataDepth = 32

    package init(maxBatch: Int, maxSearchResults: Int) {
        self.maxBatch = maxBatch
        self.maxSearchResults = maxSearchResults
    }

    /// Nesting depth of a JSON value: a scalar is 0, `{}` or `[]` is 1.
    static func depth(_ value: JSONValue) -> Int {
        switch value {
        case .object(let o): return 1 + (o.members.map { depth($0.value) }.max() ?? 0)
        case .array(let a): return 1 + (a.map { depth($0) }.max() ?? 0)
        default: return 0
        }
    }

    // MARK: - Body

    /// Checks the media type and parses the JSON body.
    package static func json(_ request: HTTPRequest) throws(Problem) -> JSONValue {
        guard isJSON(request.contentType) else { throw Problem.unsupportedMediaType(request.contentType) }
        do {
            return try JSONParser.parse(request.body, maxDepth: 64)
        } catch where error.kind == .numberOutOfRange {
            // Valid JSON that no field of the API can take (no double holds it): the request is wrong, not the JSON.
            let field = error.path.isEmpty ? nil : error.path
            throw Problem.invalidRequest("\(field ?? "the body"): the number at byte \(error.offset) is beyond the range of a 64-bit float", field: field)
        } catch {
            throw Problem.invalidJSON("the body is not valid JSON: \(error)")
        }
    }

    /// `application/json`, case-insensitive, optionally with parameters; a `charset` parameter must name UTF-8
    /// (JSON exchanged between systems is UTF-8, RFC 8259 §8.1: a body declared in another charset would be
    /// read wrongly, so it is refused rather than guessed at).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        if contentType == "application/json" { return true }  // the common case, without splitting
        let parts = contentType.split(separator: ";").map { String($0).trimmingSpaces() }
        guard parts.first?.lowercased() == "application/json" else { return false }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces() }
            guard pair.count == 2, pair[0].lowercased() == "charset" else { continue }
            var value = pair[1].lowercased()
            if value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            if value != "utf-8" && value != "utf8" { return false }
        }
        return true
    }

    /// For routes whose body is optional (`/flush`, `/checkpoint`): empty, or an empty JSON object.
    static func emptyOrEmptyObject(_ request: HTTPRequest) throws(Problem) {
        if hasNoBody(request) { return }
        let value = try json(request)
        guard case .object(let object) = value, object.isEmpty else {
            throw Problem.invalidRequest("this route takes no parameters: send no body or {}")
        }
    }

    /// True when the body is empty or only JSON whitespace.
    static func hasNoBody(_ request: HTTPRequest) -> Bool {
        request.body.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }

    // MARK: - Upsert

    /// The records of a `POST /vectors` body, and whether it was a batch (`{"vectors": [...]}`) or one record.
    package struct DecodedRecords {
        package var records: [VectorRecord]
        package var isBatch: Bool
    }

    package func records(_ body: JSONValue) throws(Problem) -> DecodedRecords {
        guard case .object(let object) = body else {
            throw Problem.invalidRequest("the body must be a JSON object: a record {\"id\", \"vector\", \"metadata\"?} or a batch {\"vectors\": [...]}")
        }
        if let batch = object["vectors"] {
            try Self.onlyKeys(object, ["vectors"], path: "")
            let items = try batchItems(batch, field: "vectors", noun: "record")
            var records: [VectorRecord] = []
            records.reserveCapacity(items.count)
            var seen = Set<UInt64>(minimumCapacity: items.count)
            for (i, item) in items.enumerated() {
                let record = try Self.record(item, path: "vectors[\(i)]")
                guard seen.insert(record.id).inserted else {
                    throw Problem.duplicateID("vectors[\(i)].id: id \(record.id) appears twice in this batch", field: "vectors[\(i)].id")
                }
                records.append(record)
            }
            return DecodedRecords(records: records, isBatch: true)
        }
        return DecodedRecords(records: [try Self.record(body, path: "")], isBatch: false)
    }

    static func record(_ value: JSONValue, path: String) throws(Problem) -> VectorRecord {
        guard case .object(let object) = value else {
            throw Problem.invalidRequest("\(label(path)): expected a record object, got \(value.typeName)", field: path.isEmpty ? nil : path)
        }
        try onlyKeys(object, ["id", "vector", "metadata"], path: path)
        guard let idValue = object["id"] else {
            throw Problem.invalidRequest("\(join(path, "id")): required", field: join(path, "id"))
        }
        let id = try Self.id(idValue, field: join(path, "id"))
        guard let vectorValue = object["vector"] else {
            throw Problem.invalidRequest("\(join(path, "vector")): required", field: join(path, "vector"))
        }
        let vector = try Self.vector(vectorValue, field: join(path, "vector"))
        var metadata: Metadata?
        switch object["metadata"] {
        case nil, .null?:
            metadata = nil
        case .object(let m)?:
            let depth = Self.depth(.object(m))
            guard depth <= Self.maxMetadataDepth else {
                throw Problem.invalidRequest(
                    "\(join(path, "metadata")): nested \(depth) levels deep; at most \(Self.maxMetadataDepth) are allowed",
                    field: join(path, "metadata"))
            }
            metadata = Metadata(m)
        case let other?:
            throw Problem.invalidRequest("\(join(path, "metadata")): expected an object, got \(other.typeName)", field: join(path, "metadata"))
        }
        return VectorRecord(id: id, vector: vector, metadata: metadata)
    }

    static func id(_ value: JSONValue, field: String) throws(Problem) -> UInt64 {
        guard case .number(let n) = value else {
            throw Problem.invalidRequest("\(field): expected an unsigned 64-bit integer, got \(value.typeName)", field: field)
        }
        guard let id = n.wholeUInt64 else {
            throw Problem.invalidRequest("\(field): \(n) is not an integer from 0 to 18446744073709551615", field: field)
        }
        return id
    }

    static func vector(_ value: JSONValue, field: String) throws(Problem) -> [Float] {
        guard case .array(let items) = value else {
            throw Problem.invalidRequest("\(field): expected an array of numbers, got \(value.typeName)", field: field)
        }
        var vector = [Float](repeating: 0, count: items.count)
        for i in items.indices {
            guard case .number(let n) = items[i] else {
                throw Problem.invalidRequest("\(field)[\(i)]: expected a number, got \(items[i].typeName)", field: "\(field)[\(i)]")
            }
            guard let f = n.float else {
                throw Problem.invalidRequest("\(field)[\(i)]: \(n) overflows a 32-bit float", field: "\(field)[\(i)]")
            }
            vector[i] = f
        }
        return vector
    }

    // MARK: - Search

    static let searchOptionKeys = Set(["k", "filter", "include", "explain", "plan", "rescore", "oversample"]
                                      + SearchParameter.allCases.map(\.key))

    package func search(_ body: JSONValue) throws(Problem) -> SearchRequest {
        guard case .object(let object) = body else {
            throw Problem.invalidRequest("the body must be a JSON object {\"vector\": [...], \"k\": n, ...}")
        }
        try Self.onlyKeys(object, Self.searchOptionKeys.union(["vector"]), path: "")
        guard let vectorValue = object["vector"] else { throw Problem.invalidRequest("vector: required", field: "vector") }
        let vector = try Self.vector(vectorValue, field: "vector")
        let options = try Self.searchOptions(object)
        try resultsWithinLimit(queries: 1, k: options.k)
        return SearchRequest(vector: vector, options: options)
    }

    package func batchSearch(_ body: JSONValue) throws(Problem) -> BatchSearchRequest {
        guard case .object(let object) = body else {
            throw Problem.invalidRequest("the body must be a JSON object {\"queries\": [[...], ...], \"k\": n, ...}")
        }
        try Self.onlyKeys(object, Self.searchOptionKeys.union(["queries"]), path: "")
        guard let queriesValue = object["queries"] else { throw Problem.invalidRequest("queries: required", field: "queries") }
        let items = try batchItems(queriesValue, field: "queries", noun: "query")
        let options = try Self.searchOptions(object)
        try resultsWithinLimit(queries: items.count, k: options.k)
        var queries: [[Float]] = []
        queries.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { queries.append(try Self.vector(item, field: "queries[\(i)]")) }
        return BatchSearchRequest(queries: queries, options: options)
    }

    /// 422 with the limit when `queries` times `k` passes `--max-search-results`: the results a search could
    /// make the server hold, refused before any is made.
    func resultsWithinLimit(queries: Int, k: Int) throws(Problem) {
        guard queries * k > maxSearchResults else { return }
        var p = Problem.outOfRange(
            "k: \(queries) \(queries == 1 ? "query" : "queries") of k = \(k) ask for \(queries * k) results, more than the limit of \(maxSearchResults) per request (--max-search-results)",
            field: "k")
        p.extra = [("limit", .number(JSONNumber(maxSearchResults)))]
        throw p
    }

    /// k, ef_search, n_probe, rescore, oversample, filter and include, with their defaults.
    static func searchOptions(_ object: JSONObject) throws(Problem) -> SearchOptions {
        let k = try Self.int(object["k"], field: "k", default: 10, range: 1...Self.maxK)
        var params = SearchParams()
        let efSearch = SearchParameter.efSearch.key, nProbe = SearchParameter.nProbe.key
        if object[efSearch] != nil {
            params.efSearch = try Self.int(object[efSearch], field: efSearch, default: 0, range: 1...Self.maxEfSearch)
        }
        if object[nProbe] != nil {
            params.nProbe = try Self.int(object[nProbe], field: nProbe, default: 0, range: 1...Self.maxNProbe)
        }
        if let rescore = object["rescore"] { params.rescore = try bool(rescore, field: "rescore") }
        if let oversample = object["oversample"] {
            params.oversample = try number(oversample, field: "oversample", range: SearchParams.oversampleRange)
        }
        var filter: Filter?
        if let value = object["filter"], !value.isNull {
            let decoded = try FilterDecoder.decode(value)
            // An empty filter matches every record, with or without metadata: no predicate at all.
            filter = decoded == .all ? nil : decoded
        }
        var includeMetadata = false
        var includeVector = false
        if let include = object["include"] {
            guard case .array(let items) = include else {
                throw Problem.invalidRequest("include: expected an array of \"metadata\" and/or \"vector\", got \(include.typeName)", field: "include")
            }
            for (i, item) in items.enumerated() {
                switch item {
                case .string("metadata"): includeMetadata = true
                case .string("vector"): includeVector = true
                default:
                    throw Problem.invalidRequest("include[\(i)]: expected \"metadata\" or \"vector\", got \(item)", field: "include[\(i)]")
                }
            }
        }
        return SearchOptions(
            k: k, filter: filter, params: params, includeMetadata: includeMetadata, includeVector: includeVector,
            explain: try bool(object["explain"], field: "explain"), plan: try planChoice(object["plan"]))
    }

    // MARK: - Pieces

    /// The items of a batch (`vectors` of an upsert, `queries` of a batch search): an array (else 400) of
    /// 1 ... `maxBatch` items (else 422, with the limit).
    func batchItems(_ value: JSONValue, field: String, noun: String) throws(Problem) -> [JSONValue] {
        guard case .array(let items) = value else {
            throw Problem.invalidRequest("\(field): expected an array, got \(value.typeName)", field: field)
        }
        guard !items.isEmpty else { throw Problem.outOfRange("\(field): a batch needs at least one \(noun)", field: field) }
        guard items.count <= maxBatch else {
            var p = Problem.outOfRange(
                "\(field): \(items.count) items exceed the batch limit of \(maxBatch) (--max-batch)", field: field)
            p.extra = [("limit", .number(JSONNumber(maxBatch)))]
            throw p
        }
        return items
    }

    /// An integer parameter: 400 when it is not an integer, 422 when it is outside `range`.
    static func int(_ value: JSONValue?, field: String, default def: Int, range: ClosedRange<Int>) throws(Problem) -> Int {
        guard let value else { return def }
        guard case .number(let n) = value, n.isWhole else {
            throw Problem.invalidRequest("\(field): expected an integer, got \(value)", field: field)
        }
        guard let v = n.wholeInt64, v >= range.lowerBound, v <= range.upperBound else {
            throw Problem.outOfRange("\(field): \(n) is outside \(range.lowerBound)...\(range.upperBound)", field: field)
        }
        return Int(v)
    }

    /// A number parameter: 400 when it is not a number, 422 when it is outside `range`.
    static func number(_ value: JSONValue, field: String, range: ClosedRange<Double>) throws(Problem) -> Double {
        guard case .number(let n) = value else {
            throw Problem.invalidRequest("\(field): expected a number, got \(value.typeName)", field: field)
        }
        // Past Float's range reads as infinite, so it is out of range too.
        let f = Double(n.float ?? .infinity)
        guard range.contains(f) else {
            throw Problem.outOfRange("\(field): \(n) is outside \(range.lowerBound)...\(range.upperBound)", field: field)
        }
        return f
    }

    /// An optional boolean member (absent: `absent`).
    static func bool(_ value: JSONValue?, field: String, absent: Bool = false) throws(Problem) -> Bool {
        switch value {
        case nil: return absent
        case .bool(let b)?: return b
        case let other?: throw Problem.invalidRequest("\(field): expected true or false, got \(other.typeName)", field: field)
        }
    }

    static func onlyKeys(_ object: JSONObject, _ allowed: Set<String>, path: String) throws(Problem) {
        for member in object.members where !allowed.contains(member.key) {
            let field = join(path, member.key)
            throw Problem.invalidRequest(
                "\(field): unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))", field: field)
        }
    }

    /// What a write waits for, from its `durable` query parameter (and no other).
    static func writeWait(_ request: HTTPRequest) throws(Problem) -> WriteWait {
        var durable = false
        for (name, value) in request.query {
            guard name == "durable" else {
                throw Problem.invalidRequest("unknown query parameter '\(name)' (allowed: durable)", field: name)
            }
            // Exactly the spec's booleans: `1`, `TRUE` or an empty value would be guesses.
            switch value {
            case "true": durable = true
            case "false": durable = false
            default: throw Problem.invalidRequest("durable: expected true or false, got '\(value)'", field: "durable")
            }
        }
        return durable ? .durable : .applied
    }

    static func noQuery(_ request: HTTPRequest) throws(Problem) {
        if let (name, _) = request.query.first {
            throw Problem.invalidRequest("unknown query parameter '\(name)': this route takes none", field: name)
        }
    }

    /// The `{id}` of `/vectors/{id}`: decimal digits without a leading zero (one id has one path), 0 ... 2^64−1.
    package static func pathID(_ text: Substring) throws(Problem) -> UInt64 {
        guard let id = UInt64(canonicalDecimal: text) else {
            throw Problem.invalidRequest("'\(text)' is not a vector id: expected an integer from 0 to 18446744073709551615, without leading zeros", field: "id")
        }
        return id
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    static func label(_ path: String) -> String { path.isEmpty ? "body" : path }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}

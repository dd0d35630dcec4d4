import LynxEngine
import LynxHTTP
import LynxTransport
import LynxIndex
import LynxJSON
import XCTest

/// The request decoders, body by body: what a valid body decodes to, and for an invalid one the problem's status,
/// type and field. Bodies go through `RequestDecoder.json` as the handlers send them (media type, then JSON).
final class RequestDecoderTests: XCTestCase {
    /// Small limits, so that the batch and result limits are easy to reach.
    private let decoder = RequestDecoder(maxBatch: 3, maxSearchResults: 100)

    private func json(_ body: String) throws(Problem) -> JSONValue {
        try RequestDecoder.json(HTTPRequest(method: "POST", path: "/", contentType: "application/json", body: Array(body.utf8)))
    }

    /// The problem `decode` throws for `body` (nil, and a failure, when it throws none), checked against
    /// the expected status, type and field.
    private func refuse<T>(_ body: String, _ status: Int, _ slug: String, field: String?,
                           file: StaticString = #filePath, line: UInt = #line,
                           _ decode: (JSONValue) throws(Problem) -> T) -> Problem? {
        do {
            _ = try decode(try json(body))
            XCTFail("accepted \(body)", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.status, status, body, file: file, line: line)
            XCTAssertEqual(error.slug, slug, body, file: file, line: line)
            XCTAssertEqual(error.field, field, body, file: file, line: line)
            return error
        }
    }

    // MARK: - Upsert

    func testARecordAndABatchDecode() throws {
        let one = try decoder.records(json(#"{"id": 7, "vector": [1, 2.5, -0.125], "metadata": {"tag": "a", "n": 1, "x": 1.0}}"#))
        XCTAssertFalse(one.isBatch)
        XCTAssertEqual(one.records.count, 1)
        XCTAssertEqual(one.records[0].id, 7)
        XCTAssertEqual(one.records[0].vector, [1, 2.5, -0.125])
        XCTAssertEqual(one.records[0].metadata.map { String(decoding: $0.json, as: UTF8.self) }, #"{"tag":"a","n":1,"x":1.0}"#)
        XCTAssertEqual(one.records[0].metadata?.document, .object([("tag", .string("a")), ("n", .int(1)), ("x", .double(1))]))

        let batch = try decoder.records(json(#"{"vectors": [{"id": 1, "vector": [0.1]}, {"metadata": null, "vector": [], "id": 2}]}"#))
        XCTAssertTrue(batch.isBatch)
        XCTAssertEqual(batch.records.map(\.id), [1, 2])
        XCTAssertEqual(batch.records.map(\.vector), [[0.1], []])
        XCTAssertNil(batch.records[1].metadata)
    }

    /// An id is a whole number however written, up to 2^64 − 1; a component is the nearest Float to its literal.
    func testIdsAndComponentsAtTheirLimits() throws {
        for (literal, id) in [("7.0", 7), ("7e0", 7), ("0.7e1", 7), ("700e-2", 7), ("-0", 0), ("0", 0)] as [(String, UInt64)] {
            XCTAssertEqual(try decoder.records(json(#"{"id": \#(literal), "vector": []}"#)).records[0].id, id, literal)
        }
        XCTAssertEqual(try decoder.records(json(#"{"id": 18446744073709551615, "vector": []}"#)).records[0].id, .max)
        let vector = try decoder.records(json(#"{"id": 1, "vector": [3.4028235e38, 1e-50, -0.0, 0.1, 16777217]}"#)).records[0].vector
        XCTAssertEqual(vector.map(\.bitPattern), [Float.greatestFiniteMagnitude, 0, -0.0, 0.1, 16777216].map(\.bitPattern))
    }

    func testInvalidRecordsNameTheirField() {
        let records = { (body: JSONValue) throws(Problem) in try self.decoder.records(body) }
        let cases: [(String, Int, String, String?)] = [
            ("[]", 400, "invalid-request", nil),
            (#""record""#, 400, "invalid-request", nil),
            (#"{"vector": [1]}"#, 400, "invalid-request", "id"),
            (#"{"id": 1}"#, 400, "invalid-request", "vector"),
            (#"{"id": -1, "vector": []}"#, 400, "invalid-request", "id"),
            (#"{"id": 1.5, "vector": []}"#, 400, "invalid-request", "id"),
            (#"{"id": 18446744073709551616, "vector": []}"#, 400, "invalid-request", "id"),
            (#"{"id": "1", "vector": []}"#, 400, "invalid-request", "id"),
            (#"{"id": null, "vector": []}"#, 400, "invalid-request", "id"),
            (#"{"id": 1, "vector": [1, "2"]}"#, 400, "invalid-request", "vector[1]"),
            (#"{"id": 1, "vector": [1, null]}"#, 400, "invalid-request", "vector[1]"),
            (#"{"id": 1, "vector": {"0": 1}}"#, 400, "invalid-request", "vector"),
            (#"{"id": 1, "vector": [3.5e38]}"#, 400, "invalid-request", "vector[0]"),
            (#"{"id": 1, "vector": [1, 1e400]}"#, 400, "invalid-request", "vector[1]"),
            (#"{"id": 1e400, "vector": [1]}"#, 400, "invalid-request", "id"),
            (#"{"id": 1, "vector": [1], "metadata": 3}"#, 400, "invalid-request", "metadata"),
            (#"{"id": 1, "vector": [1], "metadata": [1]}"#, 400, "invalid-request", "metadata"),
            (#"{"id": 1, "vector": [1], "metadata": {"a": 1e400}}"#, 400, "invalid-request", "metadata.a"),
            (#"{"id": 1, "vector": [1], "extra": 1}"#, 400, "invalid-request", "extra"),
            (#"{"id": 1, "id": 2, "vector": [1]}"#, 400, "invalid-json", nil),
            (#"{"id": 1, "vector": [1], "metadata": {"a": 1, "a": 2}}"#, 400, "invalid-json", nil),
            (#"{"id": 1, "vector": [1,]}"#, 400, "invalid-json", nil),
            (#"{"id": 1, "vector": [NaN]}"#, 400, "invalid-json", nil),
            (#"{"id": 01, "vector": [1]}"#, 400, "invalid-json", nil),
            ("", 400, "invalid-json", nil),
            (#"{"vectors": {}}"#, 400, "invalid-request", "vectors"),
            (#"{"vectors": []}"#, 422, "out-of-range", "vectors"),
            (#"{"vectors": [3]}"#, 400, "invalid-request", "vectors[0]"),
            (#"{"vectors": [{"id": 1, "vector": [1, "x"]}]}"#, 400, "invalid-request", "vectors[0].vector[1]"),
            (#"{"vectors": [{"id": 1, "vector": [1]}, {"vector": [1]}]}"#, 400, "invalid-request", "vectors[1].id"),
            (#"{"vectors": [{"id": 1, "vector": [1]}, {"id": 1, "vector": [2]}]}"#, 422, "duplicate-id", "vectors[1].id"),
            (#"{"vectors": [{"id": 1, "vector": [1]}], "id": 1}"#, 400, "invalid-request", "id"),
            (#"{"id": 1, "vectors": [{"id": 1, "vector": [1]}]}"#, 400, "invalid-request", "id"),
            (#"{"vectors": [{"id": 1, "vector": [1], "metadata": {"a": 1e400}}]}"#, 400, "invalid-request", "vectors[0].metadata.a"),
        ]
        for (body, status, slug, field) in cases {
            _ = refuse(body, status, slug, field: field, records)
        }
        XCTAssertEqual(refuse(#"{"id": 1, "id": 2, "vector": [1]}"#, 400, "invalid-json", field: nil, records)?.detail,
                       "the body is not valid JSON: duplicate key 'id' at byte 10")
        let overBatch = refuse(#"{"vectors": [{"id": 1, "vector": []}, {"id": 2, "vector": []}, {"id": 3, "vector": []}, {"id": 4, "vector": []}]}"#,
                               422, "out-of-range", field: "vectors", records)
        XCTAssertEqual(overBatch?.detail, "vectors: 4 items exceed the batch limit of 3 (--max-batch)")
    }

    /// Metadata may nest 32 levels, not 33.
    func testMetadataDepthIsBounded() throws {
        func nested(_ depth: Int) -> String { String(repeating: #"{"a": "#, count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1) }
        XCTAssertNotNil(try decoder.records(json(#"{"id": 1, "vector": [], "metadata": \#(nested(32))}"#)).records[0].metadata)
        let deep = refuse(#"{"id": 1, "vector": [], "metadata": \#(nested(33))}"#, 400, "invalid-request", field: "metadata") {
            (body: JSONValue) throws(Problem) in try self.decoder.records(body)
        }
        XCTAssertEqual(deep?.detail, "metadata: nested 33 levels deep; at most 32 are allowed")
    }

    func testTheBodyMustBeJSON() {
        for type in ["application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=\"UTF8\""] {
            let request = HTTPRequest(method: "POST", path: "/", contentType: type, body: Array("{}".utf8))
            XCTAssertEqual(try RequestDecoder.json(request), .object(JSONObject()), type)
        }
        for type in [nil, "text/plain", "application/json; charset=latin1", "application/jsonx", "application/x-ndjson"] as [String?] {
            let request = HTTPRequest(method: "POST", path: "/", contentType: type, body: Array("{}".utf8))
            XCTAssertThrowsError(try RequestDecoder.json(request)) { XCTAssertEqual(($0 as? Problem)?.status, 415) }
        }
    }

    // MARK: - Search

    func testASearchDecodesWithItsDefaults() throws {
        let plain = try decoder.search(json(#"{"vector": [1, 2]}"#))
        XCTAssertEqual(plain.vector, [1, 2])
        XCTAssertEqual(plain.options.k, 10)
        XCTAssertNil(plain.options.filter)
        XCTAssertNil(plain.options.params.efSearch)
        XCTAssertNil(plain.options.params.nProbe)
        XCTAssertFalse(plain.options.includeMetadata || plain.options.includeVector || plain.options.explain)
        XCTAssertEqual(plain.options.plan, .automatic)

        let full = try decoder.search(json(#"""
            {"vector": [0.5], "k": 5.0, "ef_search": 64, "n_probe": 8, "include": ["vector", "metadata"],
             "explain": true, "plan": "graph", "filter": {"tag": "a"}}
            """#))
        XCTAssertEqual(full.options.k, 5)
        XCTAssertEqual(full.options.params.efSearch, 64)
        XCTAssertEqual(full.options.params.nProbe, 8)
        XCTAssertTrue(full.options.includeMetadata && full.options.includeVector && full.options.explain)
        XCTAssertEqual(full.options.plan, .index)
        XCTAssertEqual(full.options.filter, .condition(FieldPath(dotted: "tag"), .eq(.string("a"))))

        XCTAssertNil(try decoder.search(json(#"{"vector": [1], "filter": {}}"#)).options.filter, "an empty filter is none")
        XCTAssertNil(try decoder.search(json(#"{"vector": [1], "filter": null}"#)).options.filter)
        XCTAssertEqual(try decoder.search(json(#"{"vector": [1], "plan": "exact"}"#)).options.plan, .exact)
        XCTAssertEqual(try decoder.search(json(#"{"vector": [1], "k": 100}"#)).options.k, 100)
    }

    func testInvalidSearchesNameTheirField() {
        let search = { (body: JSONValue) throws(Problem) in try self.decoder.search(body) }
        let cases: [(String, Int, String, String?)] = [
            ("[1, 2]", 400, "invalid-request", nil),
            (#"{"k": 3}"#, 400, "invalid-request", "vector"),
            (#"{"vector": "1,2"}"#, 400, "invalid-request", "vector"),
            (#"{"vector": [1], "top": 3}"#, 400, "invalid-request", "top"),
            (#"{"vector": [1], "queries": [[1]]}"#, 400, "invalid-request", "queries"),
            (#"{"vector": [1], "k": 0}"#, 422, "out-of-range", "k"),
            (#"{"vector": [1], "k": -1}"#, 422, "out-of-range", "k"),
            (#"{"vector": [1], "k": 1001}"#, 422, "out-of-range", "k"),
            (#"{"vector": [1], "k": 1e30}"#, 422, "out-of-range", "k"),
            (#"{"vector": [1], "k": 101}"#, 422, "out-of-range", "k"),
            (#"{"vector": [1], "k": 5.5}"#, 400, "invalid-request", "k"),
            (#"{"vector": [1], "k": "5"}"#, 400, "invalid-request", "k"),
            (#"{"vector": [1], "k": null}"#, 400, "invalid-request", "k"),
            (#"{"vector": [1], "k": 1e400}"#, 400, "invalid-request", "k"),
            (#"{"vector": [1], "ef_search": 0}"#, 422, "out-of-range", "ef_search"),
            (#"{"vector": [1], "ef_search": 10001}"#, 422, "out-of-range", "ef_search"),
            (#"{"vector": [1], "n_probe": 65537}"#, 422, "out-of-range", "n_probe"),
            (#"{"vector": [1], "n_probe": true}"#, 400, "invalid-request", "n_probe"),
            (#"{"vector": [1], "include": "metadata"}"#, 400, "invalid-request", "include"),
            (#"{"vector": [1], "include": ["metadata", "score"]}"#, 400, "invalid-request", "include[1]"),
            (#"{"vector": [1], "explain": 1}"#, 400, "invalid-request", "explain"),
            (#"{"vector": [1], "plan": "fast"}"#, 400, "invalid-request", "plan"),
            (#"{"vector": [1], "filter": [{"a": 1}]}"#, 400, "invalid-request", "filter"),
            (#"{"vector": [1], "k": 3, "k": 4}"#, 400, "invalid-json", nil),
        ]
        for (body, status, slug, field) in cases {
            _ = refuse(body, status, slug, field: field, search)
        }
        let k = refuse(#"{"vector": [1], "k": 1001}"#, 422, "out-of-range", field: "k", search)
        XCTAssertEqual(k?.detail, "k: 1001 is outside 1...1000")
        let results = refuse(#"{"vector": [1], "k": 101}"#, 422, "out-of-range", field: "k", search)
        XCTAssertEqual(results?.extra.first?.0, "limit")
        XCTAssertEqual(results?.extra.first?.1, .number(JSONNumber(100)))
    }

    func testABatchSearchDecodesAndItsLimitsHold() throws {
        let batch = try decoder.batchSearch(json(#"{"queries": [[1, 2], [3, 4]], "k": 50, "include": ["metadata"]}"#))
        XCTAssertEqual(batch.queries, [[1, 2], [3, 4]])
        XCTAssertEqual(batch.options.k, 50)
        XCTAssertTrue(batch.options.includeMetadata)
        XCTAssertFalse(batch.options.includeVector)

        let search = { (body: JSONValue) throws(Problem) in try self.decoder.batchSearch(body) }
        let cases: [(String, Int, String, String?)] = [
            (#"{"k": 1}"#, 400, "invalid-request", "queries"),
            (#"{"queries": [1, 2]}"#, 400, "invalid-request", "queries[0]"),
            (#"{"queries": [[1], "x"]}"#, 400, "invalid-request", "queries[1]"),
            (#"{"queries": [[1, "x"]]}"#, 400, "invalid-request", "queries[0][1]"),
            (#"{"queries": [[1e39]]}"#, 400, "invalid-request", "queries[0][0]"),
            (#"{"queries": []}"#, 422, "out-of-range", "queries"),
            (#"{"queries": [[1], [2], [3], [4]]}"#, 422, "out-of-range", "queries"),
            (#"{"queries": [[1], [2], [3]], "k": 34}"#, 422, "out-of-range", "k"),
            (#"{"queries": [[1]], "vector": [1]}"#, 400, "invalid-request", "vector"),
            (#"{"queries": {"0": [1]}}"#, 400, "invalid-request", "queries"),
        ]
        for (body, status, slug, field) in cases {
            _ = refuse(body, status, slug, field: field, search)
        }
        XCTAssertEqual(try decoder.batchSearch(json(#"{"queries": [[1], [2], [3]], "k": 33}"#)).queries.count, 3)
    }

    // MARK: - Filters

    func testFiltersDecodeToTheirConditions() throws {
        func filter(_ text: String) throws -> Filter { try FilterDecoder.decode(json(text)) }
        let a = FieldPath(dotted: "a"), b = FieldPath(dotted: "b.c")
        XCTAssertEqual(try filter(#"{"a": 1}"#), .condition(a, .eq(.int(1))))
        XCTAssertEqual(try filter(#"{"a": 1.0}"#), .condition(a, .eq(.double(1))), "a literal with a fraction is a double")
        XCTAssertEqual(try filter(#"{"a": 9223372036854775808}"#), .condition(a, .eq(.double(9223372036854775808))))
        XCTAssertEqual(try filter(#"{"a": -9223372036854775808}"#), .condition(a, .eq(.int(.min))))
        XCTAssertEqual(try filter(#"{"a": null, "b.c": true}"#), .and([.condition(a, .eq(.null)), .condition(b, .eq(.bool(true)))]))
        XCTAssertEqual(try filter(#"{"a": {"$gte": 1, "$lt": "x"}}"#), .and([.condition(a, .gte(.int(1))), .condition(a, .lt(.string("x")))]))
        XCTAssertEqual(try filter(#"{"$or": [{"a": {"$ne": 2}}, {"$not": {"b.c": {"$exists": false}}}]}"#),
                       .or([.condition(a, .ne(.int(2))), .not(.condition(b, .exists(false)))]))
        XCTAssertEqual(try filter(#"{"a": {"$in": [1, "x", null, 1]}}"#), .condition(a, .in([.int(1), .string("x"), .null])))
        XCTAssertEqual(try filter(#"{"a": {"$nin": [2.5]}, "$and": [{"b.c": {"$gt": 0}}]}"#),
                       .and([.condition(a, .nin([.double(2.5)])), .and([.condition(b, .gt(.int(0)))])]))
        XCTAssertEqual(try filter("{}"), .and([]))
    }

    func testInvalidFiltersNameTheMember() {
        let decode = { (body: JSONValue) throws(Problem) in try FilterDecoder.decode(body) }
        let cases: [(String, String)] = [
            ("[]", "filter"),
            (#""a""#, "filter"),
            (#"{"a": [1, 2]}"#, "filter.a"),
            (#"{"a": {}}"#, "filter.a"),
            (#"{"a": {"b": 1}}"#, "filter.a.b"),
            (#"{"a": {"$like": "x"}}"#, "filter.a.$like"),
            (#"{"a": {"$gt": true}}"#, "filter.a.$gt"),
            (#"{"a": {"$lte": null}}"#, "filter.a.$lte"),
            (#"{"a": {"$eq": [1]}}"#, "filter.a.$eq"),
            (#"{"a": {"$ne": {"b": 1}}}"#, "filter.a.$ne"),
            (#"{"a": {"$in": 1}}"#, "filter.a.$in"),
            (#"{"a": {"$in": [[1]]}}"#, "filter.a.$in[0]"),
            (#"{"a": {"$exists": 1}}"#, "filter.a.$exists"),
            (#"{"$and": []}"#, "filter.$and"),
            (#"{"$or": {"a": 1}}"#, "filter.$or"),
            (#"{"$or": [{"a": 1}, 2]}"#, "filter.$or[1]"),
            (#"{"$not": [{"a": 1}]}"#, "filter.$not"),
            (#"{"$xor": [{"a": 1}]}"#, "filter.$xor"),
            (#"{"$gt": 1}"#, "filter.$gt"),
            (#"{"$or": [{"a": {"$eq": {}}}]}"#, "filter.$or[0].a.$eq"),
        ]
        for (body, field) in cases {
            _ = refuse(body, 400, "invalid-request", field: field, decode)
        }
        XCTAssertEqual(refuse(#"{"$gt": 1}"#, 400, "invalid-request", field: "filter.$gt", decode)?.detail,
                       #"filter.$gt: unknown operator $gt (allowed here: $and, $or, $not); $gt goes inside a field: {"field": {"$gt": ...}}"#)
        let members = (0...10_000).map(String.init).joined(separator: ",")
        let tooMany = refuse(#"{"a": {"$in": [\#(members)]}}"#, 422, "out-of-range", field: "filter.a.$in", decode)
        XCTAssertEqual(tooMany?.extra.first?.1, .number(JSONNumber(10_000)))
        XCTAssertNoThrow(try FilterDecoder.decode(json(#"{"a": {"$in": [\#((1...10_000).map(String.init).joined(separator: ","))]}}"#)))
    }

    // MARK: - Deletes and gets by id

    func testDeleteSelections() throws {
        guard case .ids(let ids) = try decoder.deleteSelection(json(#"{"ids": [3, 1, 2]}"#)) else { return XCTFail("not ids") }
        XCTAssertEqual(ids, [3, 1, 2])
        guard case .filter(let filter) = try decoder.deleteSelection(json(#"{"filter": {"a": 1}}"#)) else { return XCTFail("not a filter") }
        XCTAssertEqual(filter, .condition(FieldPath(dotted: "a"), .eq(.int(1))))
        XCTAssertEqual(try decoder.ids(json(#"{"ids": [18446744073709551615, 0]}"#)), [.max, 0])

        let delete = { (body: JSONValue) throws(Problem) in try self.decoder.deleteSelection(body) }
        let get = { (body: JSONValue) throws(Problem) in try self.decoder.ids(body) }
        let cases: [(String, Int, String, String?)] = [
            ("[1]", 400, "invalid-request", nil),
            ("{}", 400, "invalid-request", "ids"),
            (#"{"ids": [1], "filter": {"a": 1}}"#, 400, "invalid-request", "filter"),
            (#"{"ids": [1], "x": 1}"#, 400, "invalid-request", "x"),
            (#"{"ids": 1}"#, 400, "invalid-request", "ids"),
            (#"{"ids": []}"#, 422, "out-of-range", "ids"),
            (#"{"ids": [1, 2, 3, 4]}"#, 422, "out-of-range", "ids"),
            (#"{"ids": [1, -1]}"#, 400, "invalid-request", "ids[1]"),
            (#"{"ids": [1, "2"]}"#, 400, "invalid-request", "ids[1]"),
            (#"{"ids": [2, 1, 2]}"#, 400, "invalid-request", "ids[2]"),
            (#"{"filter": {"a": []}}"#, 400, "invalid-request", "filter.a"),
            (#"{"filter": null}"#, 400, "invalid-request", "filter"),
        ]
        for (body, status, slug, field) in cases {
            _ = refuse(body, status, slug, field: field, delete)
            if !body.contains("filter") { _ = refuse(body, status, slug, field: field, get) }
        }
        XCTAssertEqual(refuse(#"{"ids": [2, 1, 2]}"#, 400, "invalid-request", field: "ids[2]", get)?.detail,
                       "ids[2]: id 2 appears twice in this list")
    }

    func testPathIds() {
        XCTAssertEqual(try RequestDecoder.pathID("0"), 0)
        XCTAssertEqual(try RequestDecoder.pathID("18446744073709551615"), .max)
        for text in ["", "00", "01", "+1", "-1", "1 ", " 1", "1.0", "1e3", "18446744073709551616", "٣"] {
            XCTAssertThrowsError(try RequestDecoder.pathID(Substring(text)), text) {
                XCTAssertEqual(($0 as? Problem)?.field, "id", text)
                XCTAssertEqual(($0 as? Problem)?.status, 400, text)
            }
        }
    }
}

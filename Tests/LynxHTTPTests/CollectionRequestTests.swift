import LynxHTTP
import LynxTransport
import LynxJSON
import XCTest

/// `PUT /collections/{name}` and `DELETE /collections/{name}` through the API: the body's decoding, the engine's
/// checks of the settings, and the collection errors as problems.
final class CollectionRequestTests: XCTestCase {
    private var fixture: APIFixture!

    override func setUpWithError() throws {
        fixture = try APIFixture(self)
    }

    private func put(_ name: String, _ body: String) throws -> Answer {
        try fixture.answer("PUT", "/collections/\(name)", body: body)
    }

    func testACollectionIsCreatedOnceWithItsSettings() throws {
        let created = try put("books", #"{"dimension": 3, "metric": "cosine", "index": "hnsw", "m": 8, "ef_construction": 40}"#)
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.json?["name"], .string("books"))
        let settings = created.json?["settings"]
        XCTAssertEqual(settings?["dimension"], .number(JSONNumber(3)))
        XCTAssertEqual(settings?["metric"], .string("cosine"))
        XCTAssertEqual(settings?["index"], .string("hnsw"))
        XCTAssertEqual(settings?["m"], .number(JSONNumber(8)))
        XCTAssertEqual(settings?["ef_construction"], .number(JSONNumber(40)))

        let again = try put("books", #"{"dimension": 3, "metric": "cosine", "index": "hnsw", "m": 8, "ef_construction": 40}"#)
        XCTAssertEqual(again.status, 200, "the same settings again change nothing")

        let conflict = try put("books", #"{"dimension": 4, "metric": "cosine", "index": "hnsw"}"#)
        XCTAssertEqual(conflict.status, 409)
        XCTAssertEqual(conflict.slug, "collection-conflict")
        XCTAssertEqual(conflict.json?["existing"]?["dimension"], .number(JSONNumber(3)))
        XCTAssertTrue(conflict.detail.hasPrefix("collection books exists with other settings (dimension=3, metric=cosine, index=hnsw"), conflict.detail)

        let flat = try put("plain", #"{"dimension": 2}"#)
        XCTAssertEqual(flat.status, 201)
        XCTAssertEqual(flat.json?["settings"]?["metric"], .string("l2"), "the default metric")
    }

    func testInvalidBodiesNameTheirField() throws {
        let cases: [(String, Int, String, String?)] = [
            ("[]", 400, "invalid-request", nil),
            ("{}", 400, "invalid-request", "dimension"),
            (#"{"dimension": "3"}"#, 400, "invalid-request", "dimension"),
            (#"{"dimension": 3.5}"#, 400, "invalid-request", "dimension"),
            (#"{"dimension": 1e400}"#, 400, "invalid-request", "dimension"),
            (#"{"dimension": 0}"#, 422, "out-of-range", "dimension"),
            (#"{"dimension": 65537}"#, 422, "out-of-range", "dimension"),
            (#"{"dimension": 3, "metric": "hamming"}"#, 400, "invalid-request", "metric"),
            (#"{"dimension": 3, "metric": 1}"#, 400, "invalid-request", "metric"),
            (#"{"dimension": 3, "index": "lsh"}"#, 400, "invalid-request", "index"),
            (#"{"dimension": 3, "index": "flat", "m": 16}"#, 400, "invalid-request", "m"),
            (#"{"dimension": 3, "index": "hnsw", "n_clusters": 4}"#, 400, "invalid-request", "n_clusters"),
            (#"{"dimension": 3, "index": "hnsw", "m": 1}"#, 422, "out-of-range", "m"),
            (#"{"dimension": 3, "index": "hnsw", "ef_construction": 0}"#, 422, "out-of-range", "ef_construction"),
            (#"{"dimension": 3, "index": "ivf", "spill": -1}"#, 422, "out-of-range", "spill"),
            (#"{"dimension": 3, "color": "red"}"#, 400, "invalid-request", "color"),
            (#"{"dimension": 3, "dimension": 4}"#, 400, "invalid-json", nil),
        ]
        for (body, status, slug, field) in cases {
            let answer = try put("shelf", body)
            XCTAssertEqual(answer.status, status, body)
            XCTAssertEqual(answer.slug, slug, body)
            XCTAssertEqual(answer.field, field, body)
        }
        XCTAssertEqual(try fixture.answer("GET", "/collections/shelf").status, 404, "no refused body made the collection")
        let untyped = try fixture.answer("PUT", "/collections/shelf")
        XCTAssertEqual(untyped.status, 415, "no Content-Type")
    }

    func testNamesProtectionAndTheCollectionLimit() throws {
        let name = try put("a.b", #"{"dimension": 2}"#)
        XCTAssertEqual(name.status, 400)
        XCTAssertEqual(name.slug, "invalid-collection-name")
        XCTAssertEqual(name.field, "collection")
        XCTAssertEqual(try put(String(repeating: "x", count: 65), #"{"dimension": 2}"#).slug, "invalid-collection-name")
        XCTAssertEqual(try put(String(repeating: "x", count: 64), #"{"dimension": 2}"#).status, 201)

        let protected = try fixture.answer("DELETE", "/collections/default")
        XCTAssertEqual(protected.status, 409)
        XCTAssertEqual(protected.slug, "collection-protected")
        let missing = try fixture.answer("DELETE", "/collections/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.slug, "collection-not-found")

        // The fixture's database allows 4 collections besides default; one exists already.
        for i in 1...3 { XCTAssertEqual(try put("c\(i)", #"{"dimension": 2}"#).status, 201) }
        let tooMany = try put("c4", #"{"dimension": 2}"#)
        XCTAssertEqual(tooMany.status, 409)
        XCTAssertEqual(tooMany.slug, "too-many-collections")
        XCTAssertEqual(tooMany.json?["limit"], .number(JSONNumber(4)))
        XCTAssertEqual(try fixture.answer("DELETE", "/collections/c1").status, 200)
        XCTAssertEqual(try put("c4", #"{"dimension": 2}"#).status, 201)
    }
}

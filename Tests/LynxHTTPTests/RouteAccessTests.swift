import Foundation
import LynxEngine
import LynxHTTP
import LynxTransport
import XCTest

/// The route table and its policies, through the API's own entry points: a path is matched once (`match`), the
/// match decides who may call it (`admit`, before any body is read) and what answers it (`handle`).
final class RouteAccessTests: XCTestCase {
    private var database: Database!
    private var api: LynxAPI!

    override func setUpWithError() throws {
        let dir = NSTemporaryDirectory() + "lynx-routes-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        var config = EngineConfig()
        config.dataDir = dir
        config.dimension = 2
        config.index = .flat
        database = try Database(config: config, maxCollections: 4)
        try database.recoverAll()
        api = LynxAPI(database: database, maxBatch: 100, version: "test",
                      access: AccessPolicy(keys: AccessKeys(full: "full-key", readOnly: "read-key")))
    }

    override func tearDown() {
        database?.close(checkpoint: false)
    }

    private func admit(_ method: String, _ path: String, key: String?) -> Int? {
        let head = RequestHead(method: method, path: path, version: "HTTP/1.1") { name in
            name == "Authorization" ? key.map { "Bearer \($0)" } : nil
        }
        return api.admit(head, match: api.match(path))?.status
    }

    /// What each key may call: open to all, probes to all (no --auth-metrics), reads to either key, writes to the
    /// full key only. A path no route has, or a method a route lacks, passes as a read (its 404 or 405 changes
    /// nothing).
    func testEachRouteAdmitsTheKeysItsClassAllows() {
        let cases: [(String, String, RouteClass)] = [
            ("GET", "/health/live", .open), ("HEAD", "/health/live", .open),
            ("GET", "/health", .open), ("GET", "/health/ready", .open), ("GET", "/metrics", .open),
            ("GET", "/vectors", .read), ("GET", "/vectors/7", .read), ("HEAD", "/collections/c/vectors/7", .read),
            ("POST", "/search", .read), ("POST", "/collections/c/search/batch", .read), ("POST", "/count", .read),
            ("POST", "/vectors/get", .read), ("GET", "/collections", .read), ("GET", "/replication", .read),
            ("GET", "/replication/catalog", .read), ("GET", "/snapshots/b1", .read), ("GET", "/indexes/tag", .read),
            ("POST", "/vectors", .write), ("POST", "/collections/c/vectors", .write), ("DELETE", "/vectors/7", .write),
            ("POST", "/vectors/delete", .write), ("PUT", "/indexes/tag", .write), ("DELETE", "/indexes/tag", .write),
            ("PUT", "/collections/c", .write), ("DELETE", "/collections/c", .write), ("POST", "/flush", .write),
            ("POST", "/checkpoint", .write), ("POST", "/index/rebuild", .write), ("POST", "/snapshots", .write),
            ("DELETE", "/collections/c/snapshots/b1", .write),
            // The follower's log request is its acknowledgement under --replication sync: the full key only.
            ("GET", "/replication/log", .write), ("GET", "/collections/c/replication/log", .write),
            ("GET", "/no/such/route", .read), ("PATCH", "/vectors", .read),
        ]
        for (method, path, kind) in cases {
            let label = "\(method) \(path)"
            XCTAssertEqual(admit(method, path, key: nil), kind == .open ? nil : 401, label)
            XCTAssertEqual(admit(method, path, key: "wrong"), kind == .open ? nil : 401, label)
            XCTAssertEqual(admit(method, path, key: "read-key"), kind == .write ? 403 : nil, label)
            XCTAssertNil(admit(method, path, key: "full-key"), label)
        }
    }

    private enum RouteClass { case open, read, write }

    func testAPathMatchesOneTemplateLiteralsFirst() {
        XCTAssertEqual(api.match("/collections/books/vectors/7")?.template, "/collections/{collection}/vectors/{id}")
        XCTAssertEqual(api.match("/vectors/get")?.template, "/vectors/get")
        XCTAssertEqual(api.match("/vectors/delete")?.template, "/vectors/delete")
        XCTAssertEqual(api.match("/vectors/18446744073709551615")?.template, "/vectors/{id}")
        for path in ["/vectors/", "/collections//vectors", "/nope", "", "/collections/a/b/c/d/e"] {
            XCTAssertNil(api.match(path), path)
        }
    }

    func testUnknownPathsAndMethodsAreProblems() throws {
        func problem(_ method: String, _ path: String) throws -> (Int, [String: Any], [(String, String)]) {
            guard case .now(let response) = api.handle(HTTPRequest(method: method, path: path), match: api.match(path)) else {
                throw XCTSkip("answered later")
            }
            XCTAssertEqual(response.contentType, "application/problem+json")
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
            return (response.status, object, response.headers)
        }
        let (missing, body, _) = try problem("GET", "/nope")
        XCTAssertEqual(missing, 404)
        XCTAssertEqual(body["status"] as? Int, 404)
        let (wrong, _, headers) = try problem("PATCH", "/collections/c/vectors")
        XCTAssertEqual(wrong, 405)
        XCTAssertEqual(headers.first { $0.0 == "Allow" }?.1, "POST, GET")
    }
}

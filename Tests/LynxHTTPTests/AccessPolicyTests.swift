import LynxEngine
import LynxHTTP
import LynxTransport
import XCTest

/// Who may call what (`AccessPolicy`, checked by `LynxAPI.admit` before a body is read) under each way lynxd can
/// be configured: no key, the full key only, both keys, and either with `--auth-metrics`. RouteAccessTests walks
/// every route with both keys; these walk one route of each class through the other configurations and the ways
/// a key can be presented.
final class AccessPolicyTests: XCTestCase {
    /// One route of each class: (method, path, class).
    private static let routes: [(String, String, RouteAccess)] = [
        ("GET", "/health/live", .open), ("HEAD", "/health/live", .open),
        ("GET", "/health", .probe), ("GET", "/health/ready", .probe), ("GET", "/metrics", .probe),
        ("GET", "/collections/c/vectors/1", .read), ("POST", "/search", .read),
        ("POST", "/vectors", .write), ("PUT", "/collections/c", .write), ("GET", "/replication/log", .write),
    ]
    private var fixture: APIFixture!

    override func setUpWithError() throws {
        fixture = try APIFixture(self)
    }

    private func api(_ policy: AccessPolicy) -> LynxAPI {
        LynxAPI(database: fixture.database, maxBatch: 100, version: "test", access: policy)
    }

    /// The refusal of a request with these headers, or nil when it is admitted.
    private func admit(_ api: LynxAPI, _ method: String, _ path: String, _ headers: [String: String]) throws -> Answer? {
        let head = RequestHead(method: method, path: path, version: "HTTP/1.1") { headers[$0] }
        return try api.admit(head, match: api.match(path)).map(Answer.init)
    }

    private func status(_ api: LynxAPI, _ method: String, _ path: String, key: String?) throws -> Int? {
        try admit(api, method, path, key.map { ["Authorization": "Bearer \($0)"] } ?? [:])?.status
    }

    /// Without a key (loopback, or `--allow-unauthenticated`) every request is admitted, whatever it presents.
    func testWithoutAKeyEveryRouteIsOpen() throws {
        let open = api(.open)
        for (method, path, _) in Self.routes {
            for key: String? in [nil, "anything", ""] {
                XCTAssertNil(try status(open, method, path, key: key), "\(method) \(path) key \(key ?? "none")")
            }
        }
        XCTAssertNil(try admit(open, "DELETE", "/collections/c", ["api-key": "x"]))
    }

    /// With the full key only there is no read-only key: any other key is invalid, for reads as for writes.
    func testWithTheFullKeyOnlyEveryOtherKeyIsRefused() throws {
        let fullOnly = api(AccessPolicy(keys: AccessKeys(full: "full-key", readOnly: nil)))
        for (method, path, access) in Self.routes {
            let label = "\(method) \(path)"
            let guarded = access == .read || access == .write
            XCTAssertEqual(try status(fullOnly, method, path, key: nil), guarded ? 401 : nil, label)
            XCTAssertEqual(try status(fullOnly, method, path, key: "read-key"), guarded ? 401 : nil, label)
            XCTAssertEqual(try status(fullOnly, method, path, key: ""), guarded ? 401 : nil, label)
            XCTAssertNil(try status(fullOnly, method, path, key: "full-key"), label)
        }
    }

    /// `--auth-metrics`: the probes need either key; the live probe stays open.
    func testAuthMetricsPutsTheProbesBehindEitherKey() throws {
        let guarded = api(AccessPolicy(keys: AccessKeys(full: "full-key", readOnly: "read-key"), protectsProbes: true))
        for (method, path, access) in Self.routes {
            let label = "\(method) \(path)"
            XCTAssertEqual(try status(guarded, method, path, key: nil), access == .open ? nil : 401, label)
            XCTAssertEqual(try status(guarded, method, path, key: "wrong"), access == .open ? nil : 401, label)
            XCTAssertEqual(try status(guarded, method, path, key: "read-key"), access == .write ? 403 : nil, label)
            XCTAssertNil(try status(guarded, method, path, key: "full-key"), label)
        }
    }

    /// `Authorization: Bearer` (any case of the scheme, spaces after it) or `api-key`; `Authorization` wins when
    /// it is a bearer token, and another scheme leaves the choice to `api-key`. A key matches only whole.
    func testTheWaysAKeyIsPresented() throws {
        let both = api(AccessPolicy(keys: AccessKeys(full: "full-key", readOnly: "read-key")))
        let cases: [([String: String], Int?)] = [
            (["api-key": "full-key"], nil),
            (["api-key": "read-key"], 403),
            (["Authorization": "bearer full-key"], nil),
            (["Authorization": "BEARER full-key"], nil),
            (["Authorization": "Bearer    full-key"], nil),
            (["Authorization": "Bearer full-key "], 401),
            (["Authorization": "Bearer full-ke"], 401),
            (["Authorization": "Bearer full-keyy"], 401),
            (["Authorization": "Bearer Full-Key"], 401),
            (["Authorization": "full-key"], 401),
            (["Authorization": "Bearer"], 401),
            (["Authorization": "Bearer read-key", "api-key": "full-key"], 403),
            (["Authorization": "Bearer wrong", "api-key": "full-key"], 401),
            (["Authorization": "Basic full-key", "api-key": "full-key"], nil),
            (["Authorization": "Basic full-key"], 401),
            (["api-key": ""], 401),
        ]
        for (headers, expected) in cases {
            XCTAssertEqual(try admit(both, "POST", "/vectors", headers)?.status, expected, "\(headers)")
        }
    }

    /// The refusals' problems: 401 says whether a key was missing or wrong (in `WWW-Authenticate` too) and never
    /// echoes the key; 403 names the method and route the read-only key may not call.
    func testTheRefusalsAreTheDocumentedProblems() throws {
        let both = api(AccessPolicy(keys: AccessKeys(full: "full-key", readOnly: "read-key")))
        let missing = try XCTUnwrap(admit(both, "GET", "/stats", [:]))
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.slug, "unauthorized")
        XCTAssertEqual(missing.title, "Unauthorized")
        XCTAssertEqual(missing.header("WWW-Authenticate"), "Bearer realm=\"lynx\"")
        XCTAssertEqual(missing.detail, "this request needs an API key: send Authorization: Bearer <key> or an api-key header")

        let wrong = try XCTUnwrap(admit(both, "GET", "/stats", ["api-key": "guess-1234"]))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.header("WWW-Authenticate"), "Bearer realm=\"lynx\", error=\"invalid_token\"")
        XCTAssertEqual(wrong.detail, "the API key is not valid")

        let readOnly = try XCTUnwrap(admit(both, "POST", "/collections/c/vectors", ["api-key": "read-key"]))
        XCTAssertEqual(readOnly.status, 403)
        XCTAssertEqual(readOnly.slug, "forbidden")
        XCTAssertEqual(readOnly.title, "Forbidden")
        XCTAssertEqual(readOnly.detail, "the read-only API key cannot make changes: POST /collections/{collection}/vectors needs the API key")
        for answer in [missing, wrong, readOnly] {
            XCTAssertEqual(answer.contentType, "application/problem+json")
            XCTAssertEqual(answer.json?["status"]?.numberValue?.int64, Int64(answer.status))
        }
    }

    func testKeysAreNeverPrinted() {
        XCTAssertEqual(AccessKeys(full: "s3cret", readOnly: nil).description, "api_key=set read_only_api_key=unset")
        XCTAssertEqual(AccessKeys(full: "s3cret", readOnly: "r3ad").description, "api_key=set read_only_api_key=set")
        XCTAssertTrue(AccessKeys(full: "s3cret", readOnly: "r3ad").hasReadOnlyKey)
    }
}

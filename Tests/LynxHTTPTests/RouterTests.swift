import LynxHTTP
import LynxTransport
import XCTest

/// The route table (`LynxAPI.router`) and the matcher (`Router`): which templates exist with which methods and
/// access classes, what a path matches and captures, and the 404 and 405 answers.
final class RouterTests: XCTestCase {
    /// Every route of the API with its methods in table order and who may call each. A route added, removed or
    /// reclassified fails here until this table says so too.
    private static let rootRoutes: [(String, [(String, RouteAccess)])] = [
        ("/health", [("GET", .probe), ("HEAD", .probe)]),
        ("/health/live", [("GET", .open), ("HEAD", .open)]),
        ("/health/ready", [("GET", .probe), ("HEAD", .probe)]),
        ("/metrics", [("GET", .probe), ("HEAD", .probe)]),
        ("/replication", [("GET", .read), ("HEAD", .read)]),
        ("/replication/catalog", [("GET", .read), ("HEAD", .read)]),
        ("/collections", [("GET", .read), ("HEAD", .read)]),
        ("/collections/{collection}", [("PUT", .write), ("GET", .read), ("HEAD", .read), ("DELETE", .write)]),
    ]
    /// The routes of one store, served at the root and under `/collections/{collection}`.
    private static let storeRoutes: [(String, [(String, RouteAccess)])] = [
        ("/vectors", [("POST", .write), ("GET", .read)]),
        ("/vectors/get", [("POST", .read)]),
        ("/vectors/delete", [("POST", .write)]),
        ("/vectors/{id}", [("GET", .read), ("HEAD", .read), ("DELETE", .write)]),
        ("/count", [("POST", .read)]),
        ("/search", [("POST", .read)]),
        ("/search/batch", [("POST", .read)]),
        ("/flush", [("POST", .write)]),
        ("/checkpoint", [("POST", .write)]),
        ("/index/rebuild", [("POST", .write)]),
        ("/stats", [("GET", .read), ("HEAD", .read)]),
        ("/indexes", [("GET", .read), ("HEAD", .read)]),
        ("/indexes/{field}", [("GET", .read), ("HEAD", .read), ("PUT", .write), ("DELETE", .write)]),
        ("/snapshots", [("POST", .write), ("GET", .read), ("HEAD", .read)]),
        ("/snapshots/{name}", [("GET", .read), ("HEAD", .read), ("DELETE", .write)]),
        ("/replication/log", [("GET", .write)]),
    ]
    private static var allRoutes: [(String, [(String, RouteAccess)])] {
        rootRoutes + storeRoutes + storeRoutes.map { ("/collections/{collection}" + $0.0, $0.1) }
    }
    /// A value for each capture name, distinct from every literal of the table.
    private static let sample = ["collection": "books", "id": "42", "field": "tag", "name": "b1"]

    private var fixture: APIFixture!

    override func setUpWithError() throws {
        fixture = try APIFixture(self)
    }

    func testTheTableHasExactlyTheDocumentedRoutesMethodsAndAccessClasses() {
        let table = fixture.api.router.routes
        XCTAssertEqual(Set(table.map(\.template)), Set(Self.allRoutes.map(\.0)))
        XCTAssertEqual(table.count, 8 + 2 * 16)
        for (template, methods) in Self.allRoutes {
            guard let route = table.first(where: { $0.template == template }) else { continue }
            XCTAssertEqual(route.methods, methods.map(\.0), template)
            for (method, access) in methods {
                XCTAssertEqual(route.endpoint(method)?.access, access, "\(method) \(template)")
            }
            XCTAssertNil(route.endpoint("PATCH"), template)
        }
    }

    /// Each template, with a sample value in each capture, matches itself and hands the values over by name.
    func testEveryRouteMatchesItsOwnPathWithItsCaptures() {
        for (template, _) in Self.allRoutes {
            var path = template
            var expected: [String: Substring] = [:]
            for (name, value) in Self.sample where template.contains("{\(name)}") {
                path = path.replacingOccurrences(of: "{\(name)}", with: value)
                expected[name] = Substring(value)
            }
            let match = fixture.api.router.match(path)
            XCTAssertEqual(match?.route.template, template, path)
            XCTAssertEqual(match?.captures.values, expected, path)
        }
    }

    /// Literals listed before a capture win (`/vectors/get` is no id), and a capture takes any non-empty segment
    /// the server passes on, decoded already: the router decodes nothing itself.
    func testLiteralsWinOverCapturesAndCapturesTakeAnySegment() {
        let router = fixture.api.router
        XCTAssertEqual(router.match("/vectors/get")?.route.template, "/vectors/get")
        XCTAssertEqual(router.match("/collections/c/vectors/delete")?.route.template, "/collections/{collection}/vectors/delete")
        XCTAssertEqual(router.match("/collections/vectors")?.captures["collection"], "vectors")
        XCTAssertEqual(router.match("/collections/health/search")?.captures["collection"], "health")
        XCTAssertEqual(router.match("/vectors/%34%32")?.captures["id"], "%34%32")
        XCTAssertEqual(router.match("/vectors/1%00")?.captures["id"], "1%00")
        XCTAssertEqual(router.match("/collections/../vectors")?.captures["collection"], "..")
        XCTAssertEqual(router.match("/indexes/a.b.c")?.captures["field"], "a.b.c")
        XCTAssertEqual(router.match("/collections/a b/stats")?.captures["collection"], "a b")
    }

    /// A trailing slash, an empty segment, another case, a query left on, too many or too few segments, and a
    /// target that is not a path (`*`, absolute form, no leading slash) match nothing.
    func testOddTargetsMatchNothing() {
        let odd = ["", "/", "//", "/vectors/", "//vectors", "/collections//vectors", "/collections/c/", "/Vectors",
                   "/VECTORS", "/vectors?limit=1", "/health/live/", "/vectors/1/2", "/collections/c/vectors/1/x",
                   "*", "http://localhost/vectors", "vectors", "health", "metrics", "collections/c"]
        for path in odd {
            XCTAssertNil(fixture.api.router.match(path), "'\(path)' matched \(fixture.api.router.match(path)?.route.template ?? "")")
        }
    }

    /// The matcher on a table of its own: table order decides between templates of one shape, and a path
    /// matches a template only with as many segments.
    func testTheFirstMatchingTemplateOfTheTableWins() {
        var router = Router<Int>()
        router.add("/a/{x}", [("GET", .read, 1)])
        router.add("/a/b", [("GET", .read, 2)])
        router.add("/{x}/{y}/{z}", [("GET", .write, 3), ("PUT", .write, 4)])
        XCTAssertEqual(router.match("/a/b")?.route.template, "/a/{x}", "a capture listed first takes the literal's path")
        XCTAssertEqual(router.match("/a/b")?.captures["x"], "b")
        XCTAssertEqual(router.match("/a/b/c")?.captures.values, ["x": "a", "y": "b", "z": "c"])
        XCTAssertEqual(router.match("/a/b/c")?.route.endpoint("PUT")?.handler, 4)
        XCTAssertEqual(router.match("/a/b/c")?.route.methods, ["GET", "PUT"])
        XCTAssertEqual(router.match("/a/b/c")?.captures["missing"], "", "an unknown capture name reads as empty")
        XCTAssertNil(router.match("/a"))
        XCTAssertNil(router.match("/a/b/c/d"))
        XCTAssertEqual(router.routes[0].segments, [.literal("a"), .capture("x")])
    }

    func testAnUnknownPathIsNotFoundAndAKnownPathWithAnotherMethodIsNotAllowed() throws {
        let missing = try fixture.answer("GET", "/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.slug, "not-found")
        XCTAssertEqual(missing.title, "Not found")
        XCTAssertEqual(missing.contentType, "application/problem+json")
        XCTAssertEqual(missing.detail, "no route GET /nope; see openapi/openapi.yaml for the API")

        let cases: [(String, String, String, String)] = [
            ("DELETE", "/vectors", "/vectors", "POST, GET"),
            ("GET", "/vectors/get", "/vectors/get", "POST"),
            ("PUT", "/vectors/7", "/vectors/{id}", "GET, HEAD, DELETE"),
            ("POST", "/health/live", "/health/live", "GET, HEAD"),
            ("get", "/health", "/health", "GET, HEAD"),
            ("HEAD", "/search", "/search", "POST"),
            ("POST", "/collections/c", "/collections/{collection}", "PUT, GET, HEAD, DELETE"),
            ("HEAD", "/collections/c/replication/log", "/collections/{collection}/replication/log", "GET"),
        ]
        for (method, path, template, allow) in cases {
            let answer = try fixture.answer(method, path)
            XCTAssertEqual(answer.status, 405, "\(method) \(path)")
            XCTAssertEqual(answer.slug, "method-not-allowed")
            XCTAssertEqual(answer.title, "Method not allowed")
            XCTAssertEqual(answer.header("Allow"), allow, "\(method) \(path)")
            XCTAssertEqual(answer.detail, "\(method) is not allowed on \(template); allowed: \(allow)")
        }
    }

    /// What the captures become: a collection name that is not one is 400, one that does not exist 404; an id
    /// is decimal digits without a leading zero.
    func testCapturesAreCheckedByTheirHandlers() throws {
        let dots = try fixture.answer("GET", "/collections/../stats")
        XCTAssertEqual(dots.status, 400)
        XCTAssertEqual(dots.slug, "invalid-collection-name")
        XCTAssertEqual(dots.field, "collection")
        let absent = try fixture.answer("GET", "/collections/books/stats")
        XCTAssertEqual(absent.status, 404)
        XCTAssertEqual(absent.slug, "collection-not-found")
        XCTAssertEqual(absent.detail, "no collection named books; create it with PUT /collections/books")
        for id in ["%34%32", "1%00", "042", "-1", "1.0", "18446744073709551616", "0x1"] {
            let answer = try fixture.answer("GET", "/vectors/\(id)")
            XCTAssertEqual(answer.status, 400, id)
            XCTAssertEqual(answer.field, "id", id)
        }
        let none = try fixture.answer("GET", "/vectors/18446744073709551615")
        XCTAssertEqual(none.status, 404)
        XCTAssertEqual(none.detail, "no vector with id 18446744073709551615")
    }
}

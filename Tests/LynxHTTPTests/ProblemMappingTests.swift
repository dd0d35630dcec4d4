import Foundation
import LynxEngine
import LynxHTTP
import LynxTransport
import LynxJSON
import LynxStorage
import XCTest

/// Every error of the layers below, and every refusal of the server, as the problem a client gets: status, type
/// and title as documented (the status of each type is read from openapi/openapi.yaml's problem schemas), the
/// field and extension members, and no server path in any of it.
final class ProblemMappingTests: XCTestCase {
    /// A path that must never reach a client.
    private static let secret = "/srv/lynx-secret/data"
    private static let ioText = "I/O error (pwrite: Input/output error)"

    /// The lines of openapi/openapi.yaml.
    private static let openAPI: [String] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../openapi/openapi.yaml")
        return ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }()

    /// type slug → the statuses openapi.yaml's problem schemas allow it.
    private static let documented: [String: Set<Int>] = {
        let lines = openAPI
        var statuses: [String: Set<Int>] = [:]
        for (i, line) in lines.enumerated() where line.contains("type: {") && line.contains("urn:lynx:problem:") && i + 1 < lines.count {
            let next = lines[i + 1].trimmingCharacters(in: .whitespaces)
            guard next.hasPrefix("status: {const: "), let status = Int(next.dropFirst("status: {const: ".count).prefix(3)) else { continue }
            for part in line.components(separatedBy: "urn:lynx:problem:").dropFirst() {
                statuses[String(part.prefix { $0.isLetter || $0 == "-" }), default: []].insert(status)
            }
        }
        return statuses
    }()

    /// Checks a problem against its expected status, type, title and field, its type against openapi.yaml, and
    /// that no path reached it; returns it parsed.
    @discardableResult
    private func check(_ problem: Problem, _ status: Int, _ slug: String, _ title: String, field: String? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> Answer {
        let answer = try Answer(problem: problem)
        XCTAssertEqual(answer.status, status, slug, file: file, line: line)
        XCTAssertEqual(answer.slug, slug, file: file, line: line)
        XCTAssertEqual(answer.title, title, slug, file: file, line: line)
        XCTAssertEqual(answer.field, field, slug, file: file, line: line)
        XCTAssertEqual(answer.contentType, "application/problem+json", file: file, line: line)
        XCTAssertEqual(answer.json?["status"]?.numberValue?.int64, Int64(status), file: file, line: line)
        XCTAssertFalse(answer.detail.isEmpty, slug, file: file, line: line)
        XCTAssertTrue(Self.documented[slug]?.contains(status) ?? false,
                      "\(slug) with \(status) is not among openapi.yaml's problem schemas", file: file, line: line)
        XCTAssertFalse(String(decoding: problem.response.body, as: UTF8.self).contains("lynx-secret"),
                       "a server path reached the client: \(answer.detail)", file: file, line: line)
        return answer
    }

    /// The title of each problem example in openapi.yaml is the one the server gives its type (the replication
    /// wire's problems, not reachable from here, aside).
    func testTheOpenAPIExamplesHaveTheServersTitles() throws {
        let books = try XCTUnwrap(CollectionName("books"))
        let problems: [Problem] = [
            .invalidJSON("x"), .invalidRequest("x"), .notFound("x"), .conflict("x"), .unsupportedMediaType(nil),
            .methodNotAllowed("PUT", path: "/", allow: []), .payloadTooLarge(limit: 1), .responseTooLarge(limit: 1),
            .dimensionMismatch(field: "vector", expected: 1, actual: 2), .duplicateID("x", field: "id"),
            .outOfRange("x"), .unavailable("x"), .insufficientStorage("x"), .internalError("x"),
            Problem(ServerRefusal.badFraming("x")), Problem(ServerRefusal.versionNotSupported("x")),
            Problem(ServerRefusal.targetTooLong(maxBytes: 1, maxParameters: 1)),
            CollectionError.invalidName("x").problem, CollectionError.notFound(books).problem,
            CollectionError.protected(books).problem, CollectionError.tooMany(limit: 1).problem,
            WriteRefusal(node: "n").problem, WriteRefusal(node: "n", leaderNode: "l", leaderURL: "u").problem,
        ]
        let titles = Dictionary(problems.map { ($0.slug, $0.title) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for line in Self.openAPI where line.contains(#""title": ""#) {
            guard let object = try? JSONParser.parse(Array(line.drop { $0 != "{" }.utf8)),
                  let slug = object["type"]?.stringValue?.replacingOccurrences(of: "urn:lynx:problem:", with: ""),
                  let title = titles[slug] else { continue }
            XCTAssertEqual(object["title"]?.stringValue, title, "openapi.yaml's example of \(slug)")
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 20)
    }

    func testTheOpenAPIDocumentIsRead() {
        XCTAssertEqual(Self.documented["not-leader"], [421, 503])
        XCTAssertEqual(Self.documented["invalid-request"], [400])
        XCTAssertGreaterThanOrEqual(Self.documented.count, 24)
    }

    func testEngineErrors() throws {
        var a = try check(EngineError.dimensionMismatch(field: .record(3), expected: 4, actual: 2).problem(batch: true),
                          422, "dimension-mismatch", "Wrong vector dimension", field: "vectors[3].vector")
        XCTAssertEqual(a.detail, "vectors[3].vector: expected 4 numbers, got 2")
        XCTAssertEqual(a.json?["expected"], .number(JSONNumber(4)))
        XCTAssertEqual(a.json?["actual"], .number(JSONNumber(2)))
        try check(EngineError.dimensionMismatch(field: .record(0), expected: 4, actual: 2).problem(),
                  422, "dimension-mismatch", "Wrong vector dimension", field: "vector")
        try check(EngineError.dimensionMismatch(field: .query(2), expected: 4, actual: 5).problem(batch: true),
                  422, "dimension-mismatch", "Wrong vector dimension", field: "queries[2]")
        try check(EngineError.dimensionMismatch(field: .query(0), expected: 4, actual: 5).problem(),
                  422, "dimension-mismatch", "Wrong vector dimension", field: "vector")
        a = try check(EngineError.invalidVector(field: .record(1), reason: "its norm is 0").problem(batch: true),
                      422, "out-of-range", "Value out of range", field: "vectors[1].vector")
        XCTAssertEqual(a.detail, "vectors[1].vector: its norm is 0")
        a = try check(EngineError.notFound(id: 9).problem(), 404, "not-found", "Not found")
        XCTAssertEqual(a.detail, "no vector with id 9")

        a = try check(EngineError.noSpace("the write-ahead log is out of space: no space left on the device (pwrite)").problem(),
                      507, "insufficient-storage", "Insufficient storage")
        XCTAssertEqual(a.detail, "the write-ahead log is out of space: no space left on the device (pwrite); nothing was applied, retry once space is freed")
        a = try check(EngineError.ioFailure("the write-ahead log append failed: \(Self.ioText)").problem(),
                      503, "unavailable", "Service unavailable")
        XCTAssertEqual(a.detail, "the write-ahead log append failed: \(Self.ioText); nothing was applied")
        XCTAssertNil(a.header("Retry-After"))
        a = try check(EngineError.recovering(progress: 0.426).problem(), 503, "unavailable", "Service unavailable")
        XCTAssertEqual(a.detail, "recovering from the log (42% replayed); retry shortly")
        XCTAssertEqual(a.header("Retry-After"), "1")
        a = try check(EngineError.overloaded("the pending tail is full", retryAfterSeconds: 3).problem(),
                      503, "unavailable", "Service unavailable")
        XCTAssertEqual(a.detail, "the pending tail is full; retry later")
        XCTAssertEqual(a.header("Retry-After"), "3")
        a = try check(EngineError.failed("the store stopped accepting writes after a failed fsync").problem(),
                      503, "unavailable", "Service unavailable")
        XCTAssertEqual(a.detail, "the store stopped accepting writes after a failed fsync")

        let field = FieldPath(dotted: "meta.tag")
        a = try check(EngineError.metadataIndexConflict(path: field, existing: .keyword).problem(), 409, "conflict", "Conflict")
        XCTAssertEqual(a.detail, "the field meta.tag already has an index of type keyword; drop it first to index it as another type")
        a = try check(EngineError.metadataIndexNotFound(path: field).problem(), 404, "not-found", "Not found")
        XCTAssertEqual(a.detail, "the field meta.tag has no metadata index")
        a = try check(EngineError.invalidFieldPath(path: FieldPath(dotted: "a..b"), reason: "an empty component").problem(),
                      400, "invalid-request", "Invalid request")
        XCTAssertEqual(a.detail, "cannot index the field \"a..b\": an empty component")
        a = try check(EngineError.readTooLarge(limit: 1024).problem(), 422, "response-too-large", "Response too large")
        XCTAssertEqual(a.json?["limit"], .number(JSONNumber(1024)))
        a = try check(EngineError.internalError("unexpected state").problem(), 500, "internal", "Internal error")
        XCTAssertEqual(a.detail, "unexpected state")
        try check(EngineError.replicaOutOfOrder(expected: 5, received: 9).problem(), 500, "internal", "Internal error")
    }

    /// The errors of opening a data directory carry its path; none of it reaches a client.
    func testOpeningErrorsCarryNoPath() throws {
        for error in [EngineError.directoryInUse(path: Self.secret, pid: 7),
                      .settingConflict(path: Self.secret, setting: "dimension", existing: "4", requested: "8"),
                      .unfinishedRestore(path: Self.secret)] {
            let a = try check(error.problem(), 500, "internal", "Internal error")
            XCTAssertEqual(a.detail, "a collection's files could not be opened")
        }
    }

    /// An error of no API type (here the storage layer's, which names its file) that reaches the edge becomes a
    /// 500 without its text: the text names server paths.
    func testAnUntypedErrorReachesTheClientWithoutItsPath() throws {
        let failure = SyscallFailure(syscall: "pwrite", path: Self.secret + "/wal/00000001.log", errno: EIO)
        for error: any Error in [StorageError.io(failure), StorageError.locked(byPID: 3, path: Self.secret),
                                 CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: Self.secret])] {
            let a = try Answer(error.response)
            XCTAssertEqual(a.status, 500)
            XCTAssertEqual(a.slug, "internal")
            XCTAssertFalse(a.detail.contains("lynx-secret"), "a server path reached the client: \(a.detail)")
        }
        XCTAssertEqual(try Answer(StorageError.io(failure).response).detail, "I/O error (pwrite: Input/output error)")
    }

    /// The generic ladder (`Error.response`) gives what each type's own mapping gives.
    func testEveryErrorTypeTakesItsOwnMappingThroughTheGenericOne() throws {
        let errors: [(any Error, Problem)] = [
            (EngineError.notFound(id: 1), EngineError.notFound(id: 1).problem()),
            (CollectionError.tooMany(limit: 3), CollectionError.tooMany(limit: 3).problem),
            (BackupError.invalidName("x y"), BackupError.invalidName("x y").problem),
            (Problem.conflict("c"), Problem.conflict("c")),
        ]
        for (error, problem) in errors {
            XCTAssertEqual(error.response.body, problem.response.body, "\(error)")
            XCTAssertEqual(error.response.status, problem.status)
        }
    }

    func testCollectionErrors() throws {
        let books = try XCTUnwrap(CollectionName("books"))
        var a = try check(CollectionError.invalidName("bad name").problem, 400, "invalid-collection-name", "Invalid collection name",
                          field: "collection")
        XCTAssertEqual(a.detail, "'bad name' is not a collection name: 1 to 64 of A-Z, a-z, 0-9, '_' and '-'")
        a = try check(CollectionError.invalidName(String(repeating: "x", count: 200)).problem, 400, "invalid-collection-name",
                      "Invalid collection name", field: "collection")
        XCTAssertEqual(a.detail, "'\(String(repeating: "x", count: 80))' is not a collection name: 1 to 64 of A-Z, a-z, 0-9, '_' and '-'")
        a = try check(CollectionError.invalidSetting(.parameter(.m), "hnsw only").problem, 400, "invalid-request", "Invalid request", field: "m")
        XCTAssertEqual(a.detail, "m: hnsw only")
        a = try check(CollectionError.settingOutOfRange(.parameter(.efConstruction), "outside 1...10000").problem, 422, "out-of-range",
                      "Value out of range", field: "ef_construction")
        XCTAssertEqual(a.detail, "ef_construction: outside 1...10000")
        a = try check(CollectionError.notFound(books).problem, 404, "collection-not-found", "No such collection")
        XCTAssertEqual(a.detail, "no collection named books; create it with PUT /collections/books")
        a = try check(CollectionError.protected(books).problem, 409, "collection-protected", "Collection cannot be deleted")
        a = try check(CollectionError.tooMany(limit: 3).problem, 409, "too-many-collections", "Too many collections")
        XCTAssertEqual(a.json?["limit"], .number(JSONNumber(3)))
        a = try check(CollectionError.storage("could not create the collection: the disk is full").problem, 507,
                      "insufficient-storage", "Insufficient storage")
        XCTAssertEqual(a.detail, "could not create the collection: the disk is full; nothing was changed")
        try check(CollectionError.writeRefused(WriteRefusal(node: "n2")).problem, 503, "no-leader", "No leader")
    }

    func testWriteRefusals() throws {
        let leader = WriteRefusal(node: "n2", leaderNode: "n1", leaderURL: "http://10.0.0.1:7311")
        var a = try check(leader.problem, 421, "not-leader", "Not the leader")
        XCTAssertEqual(a.detail, "this node (n2) follows n1; send writes to http://10.0.0.1:7311")
        XCTAssertEqual(a.json?["leader"], .object(JSONObject(members: [("node", .string("n1")), ("url", .string("http://10.0.0.1:7311"))])))
        XCTAssertEqual(EngineError.writeRefused(leader).problem().response.body, leader.problem.response.body)
        XCTAssertEqual(CollectionError.writeRefused(leader).problem.response.body, leader.problem.response.body)
        for unknown in [WriteRefusal(node: "n2"), WriteRefusal(node: "n2", leaderNode: "n1")] {
            a = try check(unknown.problem, 503, "no-leader", "No leader")
            XCTAssertEqual(a.detail, "this node (n2) knows no leader: an election is under way; retry")
            XCTAssertEqual(a.header("Retry-After"), "1")
            XCTAssertNil(a.json?["leader"])
        }
    }

    func testBackupErrors() throws {
        let name = try XCTUnwrap(BackupName("b1"))
        var a = try check(BackupError.invalidName("x y").problem, 400, "invalid-request", "Invalid request")
        XCTAssertEqual(a.detail, "invalid snapshot name 'x y': \(BackupName.rule)")
        a = try check(BackupError.alreadyExists(name).problem, 409, "conflict", "Conflict")
        XCTAssertEqual(a.detail, "a snapshot named b1 exists; choose another name or delete it first")
        a = try check(BackupError.notFound(name).problem, 404, "not-found", "Not found")
        XCTAssertEqual(a.detail, "no snapshot named b1")
    }

    func testServerRefusals() throws {
        var a = try check(Problem(ServerRefusal.payloadTooLarge(limit: 1024)), 413, "payload-too-large", "Payload too large")
        XCTAssertEqual(a.json?["limit"], .number(JSONNumber(1024)))
        XCTAssertEqual(a.detail, "the request body exceeds the limit of 1024 bytes (--max-body-bytes)")
        a = try check(Problem(ServerRefusal.bodyMemoryFull(limit: 4096, retryAfter: 2)), 503, "unavailable", "Service unavailable")
        XCTAssertEqual(a.json?["limit"], .number(JSONNumber(4096)))
        XCTAssertEqual(a.header("Retry-After"), "2")
        a = try check(Problem(ServerRefusal.badFraming("the request has 2 Content-Length headers; send exactly one")),
                      400, "bad-framing", "Ambiguous message framing")
        XCTAssertEqual(a.header("Connection"), "close")
        XCTAssertEqual(a.detail, "the request has 2 Content-Length headers; send exactly one")
        a = try check(Problem(ServerRefusal.versionNotSupported("HTTP/1.2")), 505, "http-version-not-supported",
                      "HTTP version not supported")
        XCTAssertEqual(a.header("Connection"), "close")
        XCTAssertEqual(a.detail, "'HTTP/1.2' is not served; use HTTP/1.1 or HTTP/1.0")
        a = try check(Problem(ServerRefusal.targetTooLong(maxBytes: 16384, maxParameters: 64)), 414, "uri-too-long", "URI too long")
        XCTAssertEqual(a.json?["limit"], .number(JSONNumber(16384)))
    }

    /// The problems of the request decoders, which no error type above produces. (Replication's own problems
    /// belong to its wire, which LynxReplicationTests and the integration tests cover.)
    func testTheCatalogueProblems() throws {
        try check(.invalidJSON("x"), 400, "invalid-json", "Malformed JSON")
        try check(.unsupportedMediaType(nil), 415, "unsupported-media-type", "Unsupported media type")
        try check(.duplicateID("d", field: "vectors[1].id"), 422, "duplicate-id", "Duplicate id", field: "vectors[1].id")
        try check(.methodNotAllowed("PUT", path: "/vectors", allow: ["POST", "GET"]), 405, "method-not-allowed", "Method not allowed")
        try check(.responseTooLarge(limit: 10), 422, "response-too-large", "Response too large")
    }
}

import Foundation
import LynxEngine
import LynxHTTP
import LynxTransport
import LynxJSON
import XCTest

/// A LynxAPI over a fresh database in a temporary directory (the default collection: dimension 2, flat), removed
/// when the test ends; and the decoded answers of requests made to it through `match` and `handle`, as the server
/// calls them.
final class APIFixture {
    let database: Database
    let api: LynxAPI

    init(_ test: XCTestCase, access: AccessPolicy = .open, maxBatch: Int = 100) throws {
        let dir = NSTemporaryDirectory() + "lynx-http-tests-\(UUID().uuidString)"
        var config = EngineConfig()
        config.dataDir = dir
        config.dimension = 2
        config.index = .flat
        let database = try Database(config: config, maxCollections: 4)
        test.addTeardownBlock {
            database.close(checkpoint: false)
            try? FileManager.default.removeItem(atPath: dir)
        }
        try database.recoverAll()
        self.database = database
        api = LynxAPI(database: database, maxBatch: maxBatch, version: "test", access: access)
    }

    /// The answer to a request, which must be given at once (not suspended).
    func answer(_ method: String, _ path: String, body: String? = nil, query: [(String, String)] = [],
                file: StaticString = #filePath, line: UInt = #line) throws -> Answer {
        let request = HTTPRequest(method: method, path: path, query: query,
                                  contentType: body == nil ? nil : "application/json", body: Array((body ?? "").utf8))
        switch api.handle(request, match: api.match(path)) {
        case .now(let response): return try Answer(response)
        case .later(let start):
            // A write waits for its acknowledgement; the flat test store gives it at once on another thread.
            let done = DispatchSemaphore(value: 0)
            let box = ResponseBox()
            start { box.set($0); done.signal() }
            guard done.wait(timeout: .now() + 10) == .success, let response = box.response else {
                XCTFail("\(method) \(path): no answer within 10 s", file: file, line: line)
                throw XCTSkip("no answer")
            }
            return try Answer(response)
        }
    }
}

/// A response with its body parsed (problems are JSON objects).
struct Answer {
    let status: Int
    let headers: [(String, String)]
    let contentType: String
    let json: JSONValue?

    init(_ response: HTTPResponse) throws {
        status = response.status
        headers = response.headers
        contentType = response.contentType
        json = response.body.isEmpty ? nil : try JSONParser.parse(response.body)
    }

    init(problem: Problem) throws { try self.init(problem.response) }

    /// The problem's `type` without its `urn:lynx:problem:` prefix.
    var slug: String? { json?["type"]?.stringValue.map { String($0.dropFirst("urn:lynx:problem:".count)) } }
    var title: String? { json?["title"]?.stringValue }
    var detail: String { json?["detail"]?.stringValue ?? "" }
    var field: String? { json?["field"]?.stringValue }
    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
}

private final class ResponseBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: HTTPResponse?
    var response: HTTPResponse? { lock.withLock { value } }
    func set(_ response: HTTPResponse) { lock.withLock { value = response } }
}

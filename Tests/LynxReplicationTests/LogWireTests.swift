import LynxJSON
import LynxStorage
import XCTest
import LynxReplication

/// `GET /replication/log` on the wire: what a follower writes, the leader reads back the same, and the refusals the
/// leader writes, the follower reads back the same.
final class LogWireTests: XCTestCase {
    private func pairs(_ query: String) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
    }

    func testARequestReadsBackAsWritten() throws {
        let requests = [
            LogRequest(node: "n-2", after: 0, durable: 0, lastTerm: 0, term: 0, storeID: nil),
            LogRequest(node: "node_1", after: 41, durable: 40, lastTerm: 3, term: 4, storeID: StoreID(rawValue: 0xDEAD_BEEF),
                       waitSeconds: 0.25, maxBytes: 1 << 20),
            LogRequest(node: "x", after: .max, durable: .max, lastTerm: .max, term: .max, storeID: StoreID(rawValue: .max),
                       waitSeconds: LogRequest.maxWaitSeconds, maxBytes: LogRequest.maxBytesLimit),
        ]
        for request in requests {
            XCTAssertEqual(try LogRequest(query: pairs(request.query)), request, request.query)
        }
    }

    func testABadQueryNamesItsParameter() {
        let cases: [(String, String)] = [
            ("after=1&speed=2", "speed"),
            ("after=1&after=2", "after"),
            ("after=01", "after"),
            ("after=-1", "after"),
            ("after=18446744073709551616", "after"),
            ("durable=3", "after"),
            ("after=1&wait_ms=2001", "wait_ms"),
            ("after=1&max_bytes=0", "max_bytes"),
            ("after=1&max_bytes=\((1 << 30) + 1)", "max_bytes"),
            ("after=1&node=a/b", "node"),
            ("after=1&node=a&node=b", "node"),
        ]
        for (query, parameter) in cases {
            XCTAssertThrowsError(try LogRequest(query: pairs(query)), query) { error in
                XCTAssertEqual((error as? LogRequest.QueryError)?.parameter, parameter, query)
            }
        }
    }

    /// The problem body the leader's HTTP layer writes for a refusal (type, title, status, detail, members).
    private func body(_ refusal: LogRefusal) -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("type"); w.string("urn:lynx:problem:\(refusal.slug)")
        w.key("title"); w.string(refusal.title)
        w.key("status"); w.int(refusal.status)
        w.key("detail"); w.string(refusal.detail)
        for (name, value) in refusal.members { w.key(name); w.write(value) }
        w.endObject()
        return w.bytes
    }

    func testTheRefusalsAFollowerActsOnReadBackAsWritten() throws {
        let request = LogRequest(node: "f", after: 9, durable: 9, lastTerm: 1, term: 2, storeID: nil)
        let answers: [LogAnswer] = [
            .diverged(at: 7, termKnown: true), .diverged(at: .max, termKnown: false), .snapshotNeeded(startLSN: 120),
        ]
        for answer in answers {
            let refusal = try XCTUnwrap(answer.refusal(to: request), "\(answer)")
            XCTAssertEqual(LogAnswer(status: refusal.status, body: body(refusal)), answer)
        }
        XCTAssertEqual(LogAnswer(status: 200, body: [1, 2, 3]), .batch([1, 2, 3]))
        // Answers the follower does not act on (it pauses and asks again) have no refusal and read as nothing.
        for answer: LogAnswer in [.batch([]), .notLeader(nil), .storeGone, .invalid("x"), .failed("y")] {
            XCTAssertNil(answer.refusal(to: request), "\(answer)")
        }
        for status in [400, 404, 421, 500, 503] { XCTAssertNil(LogAnswer(status: status, body: []), "\(status)") }
        // A diverged answer whose members are lost reads as the safe case: from LSN 1, the term not known.
        XCTAssertEqual(LogAnswer(status: 409, body: Array("{}".utf8)), .diverged(at: 1, termKnown: false))
    }
}

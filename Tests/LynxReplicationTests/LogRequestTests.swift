import XCTest
import LynxStorage
import LynxReplication

/// The follower's side of `GET /replication/log`'s query: every parameter by its one name, once.
final class LogRequestTests: XCTestCase {
    private func pairs(_ query: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            XCTAssertNil(out[kv[0]], "\(kv[0]) twice in \(query)")
            out[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return out
    }

    func testTheQueryNamesEveryParameterOnce() {
        let request = LogRequest(node: "n2", after: 120, durable: 118, lastTerm: 8, term: 9, storeID: StoreID(rawValue: 77),
                                 waitSeconds: 1, maxBytes: 1000)
        XCTAssertEqual(pairs(request.query), ["after": "120", "durable": "118", "last_term": "8", "term": "9", "store_id": "77",
                                              "node": "n2", "wait_ms": "1000", "max_bytes": "1000"])
        XCTAssertEqual(Set(pairs(request.query).keys), Set(LogRequest.Parameter.allCases.map(\.rawValue)))
    }

    func testAnEmptyStoreSendsStoreIDZeroAndTheDefaultSizeIsLeftOut() {
        let request = LogRequest(node: "n3", after: 0, durable: 0, lastTerm: 0, term: 4, storeID: nil, waitSeconds: 0.25)
        let q = pairs(request.query)
        XCTAssertEqual(q["store_id"], "0")
        XCTAssertEqual(q["wait_ms"], "250")
        XCTAssertNil(q["max_bytes"])
    }
}

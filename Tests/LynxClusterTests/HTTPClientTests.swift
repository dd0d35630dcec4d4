import Foundation
import LynxCluster
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class HTTPClientTests: EtcdTestCase {
    func testRequestReadsStatusHeadersAndBody() throws {
        let url = try etcdURL()
        let http = HTTPClient()
        let health = try http.request("GET", url + "/health", timeoutSeconds: 2)
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(String(decoding: health.body, as: UTF8.self), #"{"health":"true"}"#)
        XCTAssertNotNil(health.header("content-TYPE"))
        XCTAssertEqual(health.header("Content-Type"), health.header("content-type"))
        // A POST with a JSON body, on the same handle.
        let put = try http.request("POST", url + "/v3/kv/put", headers: [("Content-Type", "application/json")],
                                   body: Array(#"{"key":"eA==","value":"eQ=="}"#.utf8), timeoutSeconds: 2)
        XCTAssertEqual(put.status, 200)
        XCTAssertTrue(String(decoding: put.body, as: UTF8.self).contains("\"revision\""))
        let missing = try http.request("GET", url + "/no-such-route", timeoutSeconds: 2)
        XCTAssertEqual(missing.status, 404)
    }

    func testDownloadStreamsTheBodyIntoAFile() throws {
        let url = try etcdURL()
        let http = HTTPClient()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lynx-dl-\(UUID().uuidString)").path
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x41, count: 1 << 20))  // truncated

        let version = try http.request("GET", url + "/version", timeoutSeconds: 2)
        let got = try http.download(url + "/version", to: path, timeoutSeconds: 2)
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(got.body, [], "a 2xx body goes to the file only")
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), version.body)

        let metrics = try http.download(url + "/metrics", to: path, timeoutSeconds: 5)
        XCTAssertEqual(metrics.status, 200)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains("etcd_server_has_leader 1"), String(text.prefix(300)))

        let missing = try http.download(url + "/no-such-route", to: path, timeoutSeconds: 2)
        XCTAssertEqual(missing.status, 404)
        XCTAssertFalse(missing.body.isEmpty, "a failed download keeps its answer in body")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, 0)

        XCTAssertThrowsError(try http.download(url + "/version", to: "/nonexistent-dir/x", timeoutSeconds: 2))
    }

    func testDeadPortIsRefusedWellWithinTheConnectTimeout() {
        let http = HTTPClient(connectTimeoutSeconds: 1)
        let start = Date()
        XCTAssertThrowsError(try http.request("GET", "http://127.0.0.1:\(LoopbackSockets.freePort())/", timeoutSeconds: 5)) { error in
            XCTAssertFalse((error as! HTTPClientError).timedOut, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    func testConnectTimeoutHoldsAgainstAListenerThatDropsConnects() throws {
        // Backlog 0 and one connection already queued: Linux drops further SYNs, so a connect hangs.
        let listener = LoopbackSockets.listeningSocket(backlog: 0)
        defer { close(listener) }
        let port = LoopbackSockets.port(of: listener)
        let filler = LoopbackSockets.connect(to: port)
        defer { close(filler) }
        let http = HTTPClient(connectTimeoutSeconds: 0.5)
        let start = Date()
        XCTAssertThrowsError(try http.request("GET", "http://127.0.0.1:\(port)/", timeoutSeconds: 5)) { error in
            XCTAssertTrue((error as! HTTPClientError).timedOut, "\(error)")
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.45)
        XCTAssertLessThan(elapsed, 1.5)
    }

    func testRequestTimeoutHoldsAgainstAServerThatNeverAnswers() throws {
        // The kernel completes the connection; nobody accepts it or answers.
        let listener = LoopbackSockets.listeningSocket(backlog: 4)
        defer { close(listener) }
        let http = HTTPClient(connectTimeoutSeconds: 1)
        let start = Date()
        XCTAssertThrowsError(try http.request("POST", "http://127.0.0.1:\(LoopbackSockets.port(of: listener))/",
                                              body: Array(repeating: 7, count: 100_000), timeoutSeconds: 0.6)) { error in
            XCTAssertTrue((error as! HTTPClientError).timedOut, "\(error)")
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.55)
        XCTAssertLessThan(elapsed, 1.5)
    }
}

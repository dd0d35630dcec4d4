import Foundation
import LynxJSON

/// Sends one JSON message to etcd's gRPC gateway, endpoint by endpoint, and returns the decoded answer.
///
/// An endpoint that gives no HTTP answer, or answers 5xx (etcd's "unavailable": no leader, shutting down),
/// passes the request to the next one; the last endpoint that answered is tried first next time. Any other
/// error answer (a missing lease, a malformed request) is etcd's verdict and is thrown at once.
/// Not thread-safe: EtcdClient serialises its use.
final class EtcdGateway {
    private let endpoints: [String]
    private let timeoutSeconds: Double
    private let http: HTTPClient
    private var preferred = 0

    init(endpoints: [String], timeoutSeconds: Double) {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.timeoutSeconds = timeoutSeconds
        http = HTTPClient(connectTimeoutSeconds: timeoutSeconds)
    }

    /// etcd's answer: the message, or its refusal with the gRPC code (5 is NotFound) and message.
    enum Answer {
        case ok(JSONValue)
        case refused(code: Int, message: String)

        /// The message; a refusal becomes an EtcdError naming `what`.
        func get(_ what: String) throws(EtcdError) -> JSONValue {
            switch self {
            case .ok(let value): return value
            case .refused(let code, let message): throw EtcdError("etcd \(what): \(message) (code \(code))")
            }
        }
    }

    /// POSTs `message` to `path` (e.g. "/v3/kv/range"). Throws only when no endpoint gave a readable answer.
    func call(_ path: String, _ message: JSONValue) throws(EtcdError) -> Answer {
        guard !endpoints.isEmpty else { throw EtcdError("no etcd endpoints configured") }
        let body = EtcdCoding.encode(message)
        var failures: [String] = []
        for step in 0..<endpoints.count {
            let index = (preferred + step) % endpoints.count
            let response: HTTPClientResponse
            do {
                response = try http.request("POST", endpoints[index] + path,
                                            headers: [("Content-Type", "application/json")], body: body,
                                            timeoutSeconds: timeoutSeconds)
            } catch {
                failures.append(error.description)
                continue
            }
            if response.status >= 500 {
                failures.append("\(endpoints[index])\(path): HTTP \(response.status) \(Self.errorMessage(response.body))")
                continue
            }
            preferred = index
            let answer = try Self.firstMessage(response.body, path: path)
            // A unary call's error is {"error","message","code"}; a stream's is {"error":{"message","code"...}}.
            if let error = answer["error"] ?? answer["result"]?["error"] {
                let message = answer["message"]?.stringValue ?? error["message"]?.stringValue
                    ?? error.stringValue ?? "\(error)"
                return .refused(code: Int(EtcdCoding.int64(answer["code"] ?? error["code"])), message: message)
            }
            guard response.status == 200 else {
                return .refused(code: -1, message: "HTTP \(response.status) \(Self.errorMessage(response.body))")
            }
            return .ok(answer)
        }
        throw EtcdError("no etcd endpoint answered \(path): " + failures.joined(separator: "; "))
    }

    /// A streaming call (lease keep-alive) answers one JSON message a line; the first is the answer.
    private static func firstMessage(_ body: [UInt8], path: String) throws(EtcdError) -> JSONValue {
        let line = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).first ?? []
        do {
            return try JSONParser.parse(Array(line))
        } catch {
            throw EtcdError("etcd \(path): unreadable answer (\(error)): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
    }

    private static func errorMessage(_ body: [UInt8]) -> String {
        if let answer = try? firstMessage(body, path: ""), let message = answer["message"]?.stringValue { return message }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}

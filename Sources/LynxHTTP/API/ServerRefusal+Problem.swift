import LynxJSON
import LynxTransport

extension Problem {
    /// The problem for an answer the server decided by itself.
    package init(_ refusal: ServerRefusal) {
        switch refusal {
        case .payloadTooLarge(let limit):
            self = .payloadTooLarge(limit: limit)
        case .bodyMemoryFull(let limit, let retryAfter):
            self = .unavailable(
                "the request and answer bodies held in memory would pass the server's ceiling of \(limit) bytes (--max-body-memory); try again shortly",
                retryAfter: retryAfter)
            extra = [("limit", .number(JSONNumber(Int64(limit))))]
        case .badFraming(let detail):
            self = Problem(status: 400, slug: "bad-framing", title: "Ambiguous message framing", detail: detail)
            headers = [("Connection", "close")]
        case .versionNotSupported(let version):
            self = Problem(status: 505, slug: "http-version-not-supported", title: "HTTP version not supported",
                           detail: "'\(version)' is not served; use HTTP/1.1 or HTTP/1.0")
            headers = [("Connection", "close")]
        case .targetTooLong(let maxBytes, let maxParameters):
            self = Problem(status: 414, slug: "uri-too-long", title: "URI too long",
                           detail: "the request target is longer than \(maxBytes) bytes or has more than \(maxParameters) query parameters")
            extra = [("limit", .number(JSONNumber(Int64(maxBytes))))]
        }
    }
}

/// An answer the server decides by itself, before (or instead of) the handler's, from the request's framing
/// and the server's limits. The handler words it (`HTTPHandler.refusal(_:)`).
public enum ServerRefusal: Sendable {
    /// The body is over `--max-body-bytes` (from `Content-Length`, or a chunked body as it passes the limit).
    case payloadTooLarge(limit: Int)
    /// The body (or the answer) would take the bodies in memory over `--max-body-memory`; try again after
    /// `retryAfter` seconds.
    case bodyMemoryFull(limit: Int, retryAfter: Int)
    /// The request's framing is ambiguous (RFC 9112 §6.3); the connection is closed after the answer.
    case badFraming(String)
    /// A protocol version other than HTTP/1.0 and HTTP/1.1.
    case versionNotSupported(String)
    /// The request target is longer than `maxBytes` or has more than `maxParameters` query parameters.
    case targetTooLong(maxBytes: Int, maxParameters: Int)
}

/// Framing checks made when the headers are in, before any body is read.
enum RequestFraming {
    /// Why the request cannot be framed safely, or nil.
    static func refusal(version: String, contentLengths: Int, transferEncodings: Int) -> ServerRefusal? {
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return .versionNotSupported(version) }
        if contentLengths > 1 {
            return .badFraming("the request has \(contentLengths) Content-Length headers; send exactly one")
        }
        if contentLengths == 1 && transferEncodings > 0 {
            return .badFraming("the request has both Content-Length and Transfer-Encoding; send one of them")
        }
        return nil
    }
}

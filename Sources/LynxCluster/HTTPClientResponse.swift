/// What a server answered: the final status line's code, its headers in order (trailers of a chunked body
/// follow them), and the body (empty for a `download` that went to a file).
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header named `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }
}

/// The request got no HTTP answer: refused or timed-out connect, request timeout, reset, bad URL, or the
/// download file could not be written.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// True when the connect or the whole request ran out of time (CURLE_OPERATION_TIMEDOUT).
    public var timedOut: Bool

    public init(_ description: String, timedOut: Bool = false) {
        self.description = description
        self.timedOut = timedOut
    }
}

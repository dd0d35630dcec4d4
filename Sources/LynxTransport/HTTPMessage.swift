#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A complete HTTP request as the router sees it: the body has been read whole.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string, e.g. `/vectors/17`.
    public var path: String
    /// Query parameters in order of appearance (already percent-decoded by libmicrohttpd).
    public var query: [(String, String)]
    /// The Content-Type header, if any.
    public var contentType: String?
    public var body: [UInt8]

    public init(method: String, path: String, query: [(String, String)] = [], contentType: String? = nil, body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.contentType = contentType
        self.body = body
    }

    public func queryValue(_ name: String) -> String? {
        query.first(where: { $0.0 == name })?.1
    }
}

/// What is known of a request when its headers are in and before any of its body is read.
public struct RequestHead {
    public var method: String
    /// The path without the query string.
    public var path: String
    /// The protocol version of the request line, e.g. `HTTP/1.1`.
    public var version: String
    /// The value of a request header (case-insensitive name), the first one when repeated.
    public let header: (String) -> String?

    public init(method: String, path: String, version: String, header: @escaping (String) -> String?) {
        self.method = method
        self.path = path
        self.version = version
        self.header = header
    }
}

/// A response ready to be queued on the connection.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// When set, the body is this file instead of `body` (sent without being read into memory).
    public var file: ResponseFile?

    public init(status: Int, contentType: String = "application/json", headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

/// An open file sent as a response body by the server (libmicrohttpd reads it in pieces, with sendfile where it
/// can), so a large body is never held in memory. The server takes the descriptor and closes it once the response
/// is done; a response that is never sent closes it when released.
public final class ResponseFile: Sendable {
    public let size: UInt64
    private let fd: Int32
    private let taken = Atomic<Bool>(false)

    public init(fd: Int32, size: UInt64) {
        self.fd = fd
        self.size = size
    }

    /// The descriptor, handed over to the caller (who closes it) the first time; nil afterwards.
    public func take() -> Int32? {
        taken.exchange(true, ordering: .acquiringAndReleasing) ? nil : fd
    }

    deinit {
        if !taken.load(ordering: .acquiring) { _ = close(fd) }
    }
}

/// What a route handler gives back: an answer now, or a promise to answer later from another thread
/// (used for durable writes: the connection is suspended so that no server thread waits on fsync).
public enum HandlerResult: Sendable {
    case now(HTTPResponse)
    /// The server suspends the connection, then calls `start` with a completion that may be called once, from any thread.
    case later(@Sendable (_ complete: @escaping @Sendable (HTTPResponse) -> Void) -> Void)
}

/// What the application's route table made of a request's path: found once, when the headers are in, and handed
/// back with the request (`HTTPHandler.admit`, `handle`). The server reads only its template.
public protocol HTTPRouteMatch {
    /// The route's template (the metrics label), e.g. `/vectors/{id}`.
    var template: String { get }
}

/// The application side of the server. Called on libmicrohttpd's worker threads, concurrently.
public protocol HTTPHandler: AnyObject, Sendable {
    /// The route a path belongs to; nil when none.
    func match(_ path: String) -> (any HTTPRouteMatch)?
    /// Called once the headers are in, before any body is read: nil lets the request go on, a response refuses
    /// it (the body is then never read).
    func admit(_ head: RequestHead, match: (any HTTPRouteMatch)?) -> HTTPResponse?
    /// The whole request, with what `match` made of its path.
    func handle(_ request: HTTPRequest, match: (any HTTPRouteMatch)?) -> HandlerResult
    /// Words an answer the server decided by itself (limits, framing).
    func refusal(_ refusal: ServerRefusal) -> HTTPResponse
    /// Called once per finished request, on a server thread.
    func didRespond(route: String, method: String, status: Int, seconds: Double)
    /// Called when the server closed a connection by itself (`ConnectionCloseReason`), on any thread.
    func didCloseConnection(_ reason: ConnectionCloseReason)
}

/// Why the server closed a connection by itself (the connection limits; for the metrics).
public enum ConnectionCloseReason: String, CaseIterable, Sendable {
    /// No whole request within the request deadline.
    case deadline
    /// The oldest connection waiting for its request, closed to make room past the high-water mark.
    case evicted
    /// The same, past the per-address mark.
    case evictedPerAddress = "evicted_per_address"
    /// Answered during its upload, then closed after the linger.
    case answeredMidUpload = "answered_mid_upload"
}

extension HTTPHandler {
    public func admit(_ head: RequestHead, match: (any HTTPRouteMatch)?) -> HTTPResponse? { nil }
    public func didCloseConnection(_ reason: ConnectionCloseReason) {}
}

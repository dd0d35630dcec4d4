import LynxSupport

/// Per-request state, owned by libmicrohttpd's `con_cls` slot from the first access-handler call until
/// the request-completed notification releases it.
///
/// Threads: all fields but `deferred` are touched only by the server thread that owns the connection.
/// `deferred` is written by whichever thread completes a `.later` handler and read after the resume.
final class RequestContext {
    let startedAt: UInt64 = monotonicNanos()
    var method = ""
    /// The route the path matched, found once when the headers are in (nil: none).
    var match: (any HTTPRouteMatch)?
    var route: String { match?.template ?? "unmatched" }
    var body: [UInt8] = []
    /// Bytes of `BodyMemory` this request holds (released when it completes).
    var reservedBytes = 0
    /// An answer was written while the body arrived (`MicroHTTPDServer.answerMidUpload`): the rest is discarded.
    var answeredMidUpload = false
    var suspended = false
    var status = 0
    let deferred = PlainMutex<HTTPResponse?>(nil)

    init() {}
}

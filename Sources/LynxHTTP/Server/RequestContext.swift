#if canImport(Glibc)
import Glibc
#endif
import LynxEngine

/// Per-request state, owned by libmicrohttpd's `con_cls` slot from the first access-handler call until
/// the request-completed notification releases it.
///
/// Threads: all fields but `deferred` are touched only by the server thread that owns the connection.
/// `deferred` is written by whichever thread completes a `.later` handler and read after the resume.
final class RequestContext {
    let startedAt: UInt64 = monotonicNanos()
    var method = ""
    var route = "unmatched"
    var body: [UInt8] = []
    /// The body passed `--max-body-bytes` (chunked upload): the rest is discarded and the answer is 413.
    var overLimit = false
    var suspended = false
    var status = 0
    let deferred = PlainMutex<HTTPResponse?>(nil)

    init() {}
}

@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

import LynxJSON
import LynxTransport

/// The orchestrator's probes: `/health/live` (the process answers) and `/health/ready` (send it traffic).
extension LynxAPI {
    static func live(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        return .now(Responses.object { w in w.key("status"); w.string("live") })
    }

    /// 200 `{"status": "ready"}`, or 503 `unavailable` naming every reason (`reasons`: their words), with
    /// `Retry-After` while a collection recovers.
    static func ready(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let readiness = Readiness(api.database, minFreeDiskBytes: api.minFreeDiskBytes)
        guard readiness.isReady else {
            var problem = Problem.unavailable(
                "not ready: " + readiness.findings.map(\.detail).joined(separator: "; "),
                retryAfter: readiness.reasons.contains(.recovering) ? 1 : nil)
            problem.extra = [("reasons", .array(readiness.reasons.map { .string($0.rawValue) }))]
            throw problem
        }
        return .now(Responses.object { w in w.key("status"); w.string("ready") })
    }
}

/// Who may call which route: checked in `LynxAPI.admit`, once the headers are in and before any body is read,
/// so a refused request's body is never read. Each route states its class in the route table (`RoutePolicy`).
///
/// With no keys every request is admitted. With keys, a request presents one as `Authorization: Bearer <key>`
/// or in an `api-key` header (Qdrant's name); the `Authorization` header wins when both are sent.
/// - `open` (`GET /health/live`): always;
/// - `probe` (`/health`, `/health/ready`, `/metrics`): open unless `protectsProbes` (`--auth-metrics`), then either
///   key;
/// - `read`: either key;
/// - `write`: the full key (the read-only key gets 403).
public struct AccessPolicy: Sendable {
    /// nil: no key configured, every request is admitted.
    public var keys: AccessKeys?
    /// `--auth-metrics`: the probes need a key too.
    public var protectsProbes: Bool

    public init(keys: AccessKeys?, protectsProbes: Bool = false) {
        self.keys = keys
        self.protectsProbes = protectsProbes
    }

    public static let open = AccessPolicy(keys: nil)

    /// The problem that refuses the request, or nil to let it go on.
    func refusal(access: RouteAccess, method: String, template: String?, header: (String) -> String?) -> Problem? {
        guard let keys else { return nil }
        if access == .open || (access == .probe && !protectsProbes) { return nil }
        guard let presented = Self.presentedKey(header) else { return .unauthorized(missing: true) }
        guard let grant = keys.grant(for: presented) else { return .unauthorized(missing: false) }
        if access == .write && grant == .readOnly { return .forbiddenForReadOnlyKey(method: method, route: template ?? "") }
        return nil
    }

    /// The key of `Authorization: Bearer <key>` (scheme case-insensitive), else of `api-key`; nil when neither.
    static func presentedKey(_ header: (String) -> String?) -> Substring? {
        if let authorization = header("Authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].drop(while: { $0 == " " })
            }
        }
        return header("api-key").map { Substring($0) }
    }
}

extension Problem {
    static let realm = "Bearer realm=\"lynx\""

    /// 401: no key, or one that is neither key. The presented key is never echoed.
    static func unauthorized(missing: Bool) -> Problem {
        var p = Problem(
            status: 401, slug: "unauthorized", title: "Unauthorized",
            detail: missing
                ? "this request needs an API key: send Authorization: Bearer <key> or an api-key header"
                : "the API key is not valid")
        p.headers = [("WWW-Authenticate", missing ? realm : realm + ", error=\"invalid_token\"")]
        return p
    }

    /// 403: a write with the read-only key.
    static func forbiddenForReadOnlyKey(method: String, route: String) -> Problem {
        Problem(status: 403, slug: "forbidden", title: "Forbidden",
                detail: "the read-only API key cannot make changes: \(method) \(route) needs the API key")
    }
}

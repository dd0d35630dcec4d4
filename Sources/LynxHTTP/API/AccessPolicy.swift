/// Who may call which route: checked in `LynxAPI.admit`, once the headers are in and before any body is read,
/// so a refused request's body is never read.
///
/// With no keys every request is admitted. With keys, a request presents one as `Authorization: Bearer <key>`
/// or in an `api-key` header (Qdrant's name); the `Authorization` header wins when both are sent.
/// - `GET /health/live` is always open;
/// - the probes (`/health`, `/health/ready`, `/metrics`) are open unless `protectsProbes` (`--auth-metrics`),
///   then either key may call them;
/// - reads take either key: every `GET` and `HEAD`, and the `POST`s that only read (`readingPosts`), at the
///   root and under `/collections/{collection}`;
/// - everything else is a write and takes the full key (the read-only key gets 403). A route added later is a
///   write until it is listed here as a read.
/// A method a route does not have passes as a read: its 405 changes nothing.
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

    enum RouteAccess: Equatable {
        case open, probe, read, write
    }

    static let alwaysOpen: Set<String> = ["/health/live"]
    static let probes: Set<String> = ["/health", "/health/ready", "/metrics"]
    /// Store routes (relative to their collection) whose `POST` only reads.
    static let readingPosts: Set<String> = ["/search", "/search/batch", "/count", "/vectors/get"]
    static let collectionPrefix = "/collections/{collection}"
    /// Store routes whose `GET` takes the full key: a follower's log request is also its acknowledgement, which
    /// `--replication sync` counts, so a read-only key must not be able to make one.
    static let fullKeyReads: Set<String> = ["/replication/log"]

    /// A route relative to its collection: `/collections/{collection}/search` → `/search`; a root route as it is.
    static func storeRoute(_ template: String) -> String {
        template.hasPrefix(collectionPrefix + "/") ? String(template.dropFirst(collectionPrefix.count)) : template
    }

    /// How `method` on the route `template` (nil: no route matched) with these `methods` is protected.
    static func access(method: String, template: String?, methods: [String]) -> RouteAccess {
        guard let template else { return .read }
        if alwaysOpen.contains(template) { return .open }
        if probes.contains(template) { return .probe }
        let storeRoute = storeRoute(template)
        if fullKeyReads.contains(storeRoute) && methods.contains(method) { return .write }
        if method == "GET" || method == "HEAD" || !methods.contains(method) { return .read }
        return method == "POST" && readingPosts.contains(storeRoute) ? .read : .write
    }

    /// The problem that refuses the request, or nil to let it go on.
    func refusal(method: String, template: String?, methods: [String], header: (String) -> String?) -> Problem? {
        guard let keys else { return nil }
        let access = Self.access(method: method, template: template, methods: methods)
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

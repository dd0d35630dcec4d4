import LynxJSON
import LynxTransport

/// An RFC 9457 problem: every error the API gives is one of these, as `application/problem+json`.
/// `type` is `urn:lynx:problem:<slug>`; the slugs are listed in openapi/openapi.yaml and the README.
public struct Problem: Error, Sendable {
    public var status: Int
    public var slug: String
    public var title: String
    public var detail: String
    /// JSON path of the offending field, when there is one (e.g. `vectors[3].vector[12]`).
    public var field: String?
    /// Extra members (e.g. `expected`/`actual` for a dimension mismatch, `limit`).
    public var extra: [(String, JSONValue)] = []
    public var headers: [(String, String)] = []

    public init(status: Int, slug: String, title: String, detail: String, field: String? = nil) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
    }

    public var response: HTTPResponse {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("type"); w.string("urn:lynx:problem:\(slug)")
        w.key("title"); w.string(title)
        w.key("status"); w.int64(Int64(status))
        w.key("detail"); w.string(detail)
        if let field { w.key("field"); w.string(field) }
        for (name, value) in extra { w.key(name); w.write(value) }
        w.endObject()
        return HTTPResponse(status: status, contentType: "application/problem+json", headers: headers, body: w.bytes)
    }

    // MARK: - The catalogue

    public static func invalidJSON(_ detail: String) -> Problem {
        Problem(status: 400, slug: "invalid-json", title: "Malformed JSON", detail: detail)
    }

    public static func invalidRequest(_ detail: String, field: String? = nil) -> Problem {
        Problem(status: 400, slug: "invalid-request", title: "Invalid request", detail: detail, field: field)
    }

    public static func notFound(_ detail: String) -> Problem {
        Problem(status: 404, slug: "not-found", title: "Not found", detail: detail)
    }

    public static func conflict(_ detail: String) -> Problem {
        Problem(status: 409, slug: "conflict", title: "Conflict", detail: detail)
    }

    public static func methodNotAllowed(_ method: String, path: String, allow: [String]) -> Problem {
        var p = Problem(
            status: 405, slug: "method-not-allowed", title: "Method not allowed",
            detail: "\(method) is not allowed on \(path); allowed: \(allow.joined(separator: ", "))")
        p.headers = [("Allow", allow.joined(separator: ", "))]
        return p
    }

    public static func payloadTooLarge(limit: Int) -> Problem {
        var p = Problem(
            status: 413, slug: "payload-too-large", title: "Payload too large",
            detail: "the request body exceeds the limit of \(limit) bytes (--max-body-bytes)")
        p.extra = [("limit", .number(JSONNumber(Int64(limit))))]
        return p
    }

    /// The answer would pass `--max-response-bytes`: nothing is sent but this; the request changed nothing.
    public static func responseTooLarge(limit: Int) -> Problem {
        var p = Problem(
            status: 422, slug: "response-too-large", title: "Response too large",
            detail: "the answer would exceed the limit of \(limit) bytes (--max-response-bytes); ask for less: fewer queries or records, a smaller k, or fewer include members")
        p.extra = [("limit", .number(JSONNumber(Int64(limit))))]
        return p
    }

    public static func unsupportedMediaType(_ contentType: String?) -> Problem {
        Problem(
            status: 415, slug: "unsupported-media-type", title: "Unsupported media type",
            detail: "the body must be application/json (in UTF-8), got \(contentType.map { "'\($0)'" } ?? "no Content-Type")")
    }

    public static func dimensionMismatch(field: String, expected: Int, actual: Int) -> Problem {
        var p = Problem(
            status: 422, slug: "dimension-mismatch", title: "Wrong vector dimension",
            detail: "\(field): expected \(expected) numbers, got \(actual)", field: field)
        p.extra = [("expected", .number(JSONNumber(Int64(expected)))), ("actual", .number(JSONNumber(Int64(actual))))]
        return p
    }

    /// Two records of one batch carry the same id: the body has the schema's shape, so 422, not 400.
    public static func duplicateID(_ detail: String, field: String) -> Problem {
        Problem(status: 422, slug: "duplicate-id", title: "Duplicate id", detail: detail, field: field)
    }

    public static func outOfRange(_ detail: String, field: String? = nil) -> Problem {
        Problem(status: 422, slug: "out-of-range", title: "Value out of range", detail: detail, field: field)
    }

    public static func metadataTooLarge(field: String, size: Int, limit: Int) -> Problem {
        var p = outOfRange("\(field): \(size) bytes of compact JSON exceed the limit of \(limit) per record (--max-metadata-bytes)", field: field)
        p.extra = [("limit", .number(JSONNumber(Int64(limit))))]
        return p
    }

    public static func unavailable(_ detail: String, retryAfter: Int? = nil) -> Problem {
        var p = Problem(status: 503, slug: "unavailable", title: "Service unavailable", detail: detail)
        if let retryAfter { p.headers = [("Retry-After", String(retryAfter))] }
        return p
    }

    public static func insufficientStorage(_ detail: String) -> Problem {
        Problem(status: 507, slug: "insufficient-storage", title: "Insufficient storage", detail: detail)
    }

    public static func internalError(_ detail: String) -> Problem {
        Problem(status: 500, slug: "internal", title: "Internal error", detail: detail)
    }
}

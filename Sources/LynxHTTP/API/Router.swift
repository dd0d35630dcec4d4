import LynxTransport

/// A route table of path templates (`/collections/{collection}/vectors/{id}`) with one handler per method, each
/// with who may call it (`RouteAccess`).
/// A path matches a template with as many segments, equal literals, and a non-empty segment for each capture.
/// Templates are tried in table order, so a literal (`/vectors/get`) listed before a capture (`/vectors/{id}`)
/// wins.
package struct Router<Handler> {
    package struct Route {
        package let template: String
        package let segments: [Segment]
        package let handlers: [(method: String, access: RouteAccess, handler: Handler)]

        package var methods: [String] { handlers.map(\.method) }

        /// Who may call `method`, and its handler; nil when the route lacks it.
        package func endpoint(_ method: String) -> (access: RouteAccess, handler: Handler)? {
            handlers.first { $0.method == method }.map { ($0.access, $0.handler) }
        }
    }

    package enum Segment: Equatable {
        case literal(Substring)
        case capture(String)
    }

    package struct Match {
        package let route: Route
        package let captures: PathCaptures
    }

    package private(set) var routes: [Route] = []

    package init() {}

    package mutating func add(_ template: String, _ handlers: [(method: String, access: RouteAccess, handler: Handler)]) {
        let segments = Self.split(Substring(template)).map { s -> Segment in
            s.hasPrefix("{") && s.hasSuffix("}") ? .capture(String(s.dropFirst().dropLast())) : .literal(s)
        }
        precondition(!routes.contains { $0.template == template }, "route \(template) added twice")
        routes.append(Route(template: template, segments: segments, handlers: handlers))
    }

    /// The first route whose template matches `path`, with its captures.
    package func match(_ path: String) -> Match? {
        // A target that is not a path (`*`, `vectors`, `http://host/vectors`) matches nothing.
        guard path.first == "/" else { return nil }
        let parts = Self.split(Substring(path))
        // A trailing slash or an empty segment never matches (`/vectors/`, `/collections//x`).
        guard !parts.contains(where: \.isEmpty) || parts.isEmpty else { return nil }
        routeLoop: for route in routes where route.segments.count == parts.count {
            var captures = PathCaptures()
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text): if text != part { continue routeLoop }
                case .capture(let name): captures.values[name] = part
                }
            }
            return Match(route: route, captures: captures)
        }
        return nil
    }

    /// `/a/b` → `["a", "b"]`; `/` → `[]`; `/a/` → `["a", ""]`.
    private static func split(_ path: Substring) -> [Substring] {
        guard path.first == "/" else { return [path] }
        let rest = path.dropFirst()
        if rest.isEmpty { return [] }
        return rest.split(separator: "/", omittingEmptySubsequences: false)
    }
}

extension Router.Match: HTTPRouteMatch {
    package var template: String { route.template }
}

/// The segments a matched path gave its template's captures, by capture name.
package struct PathCaptures {
    package var values: [String: Substring] = [:]

    package subscript(_ name: String) -> Substring { values[name] ?? "" }
}

import Dispatch
import LynxEngine
import LynxIndex
import LynxJSON

/// The REST API: routes requests to the engine and renders answers. Thread-safe: called concurrently on the
/// server's worker threads; all state lives in the engine and the metrics.
public final class LynxAPI: HTTPHandler, @unchecked Sendable {
    let engine: Engine
    let decoder: RequestDecoder
    let httpMetrics = HTTPMetrics()
    let version: String

    /// Route templates and the methods each allows.
    static let routes: [(template: String, methods: [String])] = [
        ("/vectors", ["POST"]),
        ("/vectors/{id}", ["GET", "HEAD", "DELETE"]),
        ("/search", ["POST"]),
        ("/search/batch", ["POST"]),
        ("/flush", ["POST"]),
        ("/checkpoint", ["POST"]),
        ("/index/rebuild", ["POST"]),
        ("/indexes", ["GET", "HEAD"]),
        ("/indexes/{field}", ["GET", "HEAD", "PUT", "DELETE"]),
        ("/stats", ["GET", "HEAD"]),
        ("/health", ["GET", "HEAD"]),
        ("/metrics", ["GET", "HEAD"]),
    ]

    public init(engine: Engine, maxBatch: Int, version: String) {
        self.engine = engine
        self.decoder = RequestDecoder(maxBatch: maxBatch)
        self.version = version
    }

    public func routeTemplate(for path: String) -> String? {
        if path.hasPrefix("/vectors/") && path.count > "/vectors/".count && !path.dropFirst(9).contains("/") {
            return "/vectors/{id}"
        }
        if path.hasPrefix(Self.indexesPrefix) && path.count > Self.indexesPrefix.count
            && !path.dropFirst(Self.indexesPrefix.count).contains("/") {
            return "/indexes/{field}"
        }
        return Self.routes.first(where: { $0.template == path })?.template
    }

    public func payloadTooLarge(limit: Int) -> HTTPResponse { Problem.payloadTooLarge(limit: limit).response }

    public func didRespond(route: String, method: String, status: Int, seconds: Double) {
        httpMetrics.record(route: route, method: method, status: status, seconds: seconds)
    }

    public func handle(_ request: HTTPRequest) -> HandlerResult {
        do {
            return try dispatch(request)
        } catch {
            return .now(error.response)
        }
    }

    private func dispatch(_ request: HTTPRequest) throws(Problem) -> HandlerResult {
        guard let template = routeTemplate(for: request.path),
              let route = Self.routes.first(where: { $0.template == template })
        else {
            throw Problem.notFound("no route \(request.method) \(request.path); see openapi/openapi.yaml for the API")
        }
        guard route.methods.contains(request.method) else {
            throw Problem.methodNotAllowed(request.method, path: template, allow: route.methods)
        }
        switch (template, request.method) {
        case ("/vectors", "POST"):
            return try upsert(request)
        case ("/vectors/{id}", "GET"), ("/vectors/{id}", "HEAD"):
            try RequestDecoder.noQuery(request)
            return .now(try getVector(RequestDecoder.pathID(request.path.dropFirst(9))))
        case ("/vectors/{id}", "DELETE"):
            return try delete(request, id: RequestDecoder.pathID(request.path.dropFirst(9)))
        case ("/search", "POST"):
            try RequestDecoder.noQuery(request)
            return .now(try search(decoder.search(RequestDecoder.json(request))))
        case ("/search/batch", "POST"):
            try RequestDecoder.noQuery(request)
            return .now(try batchSearch(decoder.batchSearch(RequestDecoder.json(request))))
        case ("/flush", "POST"):
            try RequestDecoder.noQuery(request)
            try RequestDecoder.emptyOrEmptyObject(request)
            return flush()
        case ("/checkpoint", "POST"):
            try RequestDecoder.noQuery(request)
            try RequestDecoder.emptyOrEmptyObject(request)
            return inBackground { [self] () throws(Problem) in try checkpoint() }
        case ("/index/rebuild", "POST"):
            try RequestDecoder.noQuery(request)
            try RequestDecoder.emptyOrEmptyObject(request)
            return inBackground { [self] () throws(Problem) in
                let report = try engineCall { try engine.rebuildIndex() }
                return Responses.object { w in
                    w.key("index"); w.string(report.index.rawValue)
                    w.key("action"); w.string(report.action)
                    w.key("duration_seconds"); w.double(report.durationSeconds)
                }
            }
        case ("/indexes", _):
            try RequestDecoder.noQuery(request)
            return .now(listIndexes(on: engine))
        case ("/indexes/{field}", "GET"), ("/indexes/{field}", "HEAD"):
            try RequestDecoder.noQuery(request)
            return .now(try describeIndex(on: engine, field: Self.indexedField(request.path)))
        case ("/indexes/{field}", "PUT"):
            return try createIndex(request, on: engine, field: Self.indexedField(request.path))
        case ("/indexes/{field}", "DELETE"):
            return try dropIndex(request, on: engine, field: Self.indexedField(request.path))
        case ("/stats", _):
            try RequestDecoder.noQuery(request)
            return .now(Responses.stats(engine.stats()))
        case ("/health", _):
            return .now(Responses.health(engine))
        case ("/metrics", _):
            return .now(MetricsExposition.render(engine: engine, http: httpMetrics, version: version))
        default:
            throw Problem.internalError("route \(template) has no handler")
        }
    }

    /// Long maintenance work (checkpoints, rebuilds) runs here, one job at a time, so that it holds no
    /// server thread: the connection is suspended meanwhile and resumed with the answer.
    private let maintenance = DispatchQueue(label: "lynx.maintenance")

    private func inBackground(_ work: @escaping @Sendable () throws(Problem) -> HTTPResponse) -> HandlerResult {
        let queue = maintenance
        return .later { complete in
            queue.async {
                do {
                    complete(try work())
                } catch {
                    complete(error.response)
                }
            }
        }
    }

    // MARK: - Handlers

    private func upsert(_ request: HTTPRequest) throws(Problem) -> HandlerResult {
        let durable = try RequestDecoder.durableFlag(request)
        guard RequestDecoder.isJSON(request.contentType) else { throw Problem.unsupportedMediaType(request.contentType) }
        let decoded: RequestDecoder.DecodedRecords
        if let fast = decoder.fastRecords(request.body, dimensionHint: engine.dimension) {
            decoded = fast
        } else {
            decoded = try decoder.records(RequestDecoder.json(request))
        }
        let records = decoded.records
        let lsn = try engineCall(batch: decoded.isBatch) { try engine.upsert(records) }
        return acknowledge(lsn: lsn, durable: durable) { w, isDurable in
            w.key("upserted"); w.int(records.count)
            w.key("lsn"); w.uint64(lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    private func delete(_ request: HTTPRequest, id: UInt64) throws(Problem) -> HandlerResult {
        let durable = try RequestDecoder.durableFlag(request)
        let lsn = try engineCall { try engine.delete(id) }
        return acknowledge(lsn: lsn, durable: durable) { w, isDurable in
            w.key("deleted"); w.uint64(id)
            w.key("lsn"); w.uint64(lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    /// Answers a write now, or (durable request or `--sync always`) after the committer has synced its LSN.
    /// A waiting request suspends its connection, so no server thread waits on fsync.
    func acknowledge(
        lsn: UInt64, durable: Bool, status: Int = 200, body: @escaping @Sendable (inout JSONWriter, Bool) -> Void
    ) -> HandlerResult {
        guard durable || engine.acknowledgesDurableOnly else {
            return .now(Responses.object(status: status) { body(&$0, false) })
        }
        return afterDurable(lsn) { result in
            switch result {
            case .success:
                return Responses.object(status: status) { body(&$0, true) }
            case .failure(let error):
                var problem = error.problem()
                problem.detail = "the write (lsn \(lsn)) was applied but could not be made durable: " + problem.detail
                return problem.response
            }
        }
    }

    /// Suspends the request until `lsn` is durable, then answers with `respond(result)`.
    private func afterDurable(
        _ lsn: UInt64, _ respond: @escaping @Sendable (Result<UInt64, EngineError>) -> HTTPResponse
    ) -> HandlerResult {
        let engine = self.engine
        return .later { complete in engine.whenDurable(lsn) { complete(respond($0)) } }
    }

    private func getVector(_ id: UInt64) throws(Problem) -> HTTPResponse {
        guard let record = try engineCall({ try engine.get(id) }) else {
            throw Problem.notFound("no vector with id \(id)")
        }
        return Responses.record(record)
    }

    private func search(_ request: SearchRequest) throws(Problem) -> HTTPResponse {
        let o = request.options
        let answer = try engineCall {
            try engine.search(
                request.vector, k: o.k, params: o.params, filter: o.filter, plan: o.plan,
                includeMetadata: o.includeMetadata, includeVector: o.includeVector)
        }
        return Responses.searchResults(answer.items, plan: o.explain ? answer.plan : nil)
    }

    private func batchSearch(_ request: BatchSearchRequest) throws(Problem) -> HTTPResponse {
        let o = request.options
        let answer = try engineCall(batch: true) {
            try engine.search(
                batch: request.queries, k: o.k, params: o.params, filter: o.filter, plan: o.plan,
                includeMetadata: o.includeMetadata, includeVector: o.includeVector)
        }
        return Responses.batchSearchResults(answer.lists, plan: o.explain ? answer.plan : nil)
    }

    private func flush() -> HandlerResult {
        afterDurable(engine.lastLSN) { result in
            switch result {
            case .success(let durable):
                return Responses.object { w in w.key("durable_lsn"); w.uint64(durable) }
            case .failure(let error):
                return error.problem().response
            }
        }
    }

    private func checkpoint() throws(Problem) -> HTTPResponse {
        let report = try engineCall { try engine.checkpoint() }
        return Responses.object { w in
            w.key("checkpoint_seq"); w.uint64(report.checkpointSeq)
            w.key("lsn"); w.uint64(report.lsn)
            w.key("duration_seconds"); w.double(report.durationSeconds)
        }
    }

    /// Runs an engine call, turning its errors into problems (`batch`: the body named its vectors by index).
    func engineCall<T>(batch: Bool = false, _ body: () throws -> T) throws(Problem) -> T {
        do {
            return try body()
        } catch let error as EngineError {
            throw error.problem(batch: batch)
        } catch {
            throw Problem.internalError("\(error)")
        }
    }
}

extension Error {
    /// Every error leaves the API as a problem.
    var response: HTTPResponse {
        if let problem = self as? Problem { return problem.response }
        if let engineError = self as? EngineError { return engineError.problem().response }
        return Problem.internalError("\(self)").response
    }
}

import Dispatch
import LynxEngine
import LynxIndex
import LynxJSON
import Logging
import LynxReplication

/// The REST API: routes requests to the database's collections and renders answers. Thread-safe: called
/// concurrently on the server's worker threads; all state lives in the database and the metrics.
public final class LynxAPI: HTTPHandler, @unchecked Sendable {
    typealias Handler = (LynxAPI, HTTPRequest, PathCaptures) throws(Problem) -> HandlerResult
    /// A route of one store: run against the collection the path names (or the default one).
    typealias StoreHandler = (LynxAPI, Engine, HTTPRequest, PathCaptures) throws(Problem) -> HandlerResult

    let database: Database
    let decoder: RequestDecoder
    let httpMetrics: HTTPMetrics
    let version: String
    let router: Router<Handler>
    public static let defaultMaxMetadataBytes = 65_536

    /// Largest metadata of one record, in bytes of compact JSON (`--max-metadata-bytes`).
    let maxMetadataBytes: Int
    /// What one read may make the server hold.
    let readLimits: ReadLimits
    /// Who may call what (`AccessPolicy`), checked in `admit`.
    let access: AccessPolicy
    public static let defaultMinFreeDiskBytes: UInt64 = 64 << 20
    /// Below this many free bytes on the data directory's filesystem `/health/ready` says `disk-full`.
    let minFreeDiskBytes: UInt64
    /// One debug line per finished request.
    let requestLogger: Logger
    /// This node's place in a cluster (nil: a single node, without `--etcd-endpoints`).
    let cluster: ClusterNode?

    public init(database: Database, maxBatch: Int, maxMetadataBytes: Int = LynxAPI.defaultMaxMetadataBytes,
                readLimits: ReadLimits = ReadLimits(), version: String,
                access: AccessPolicy = .open, minFreeDiskBytes: UInt64 = LynxAPI.defaultMinFreeDiskBytes,
                requestLogger: Logger = Logger(label: "lynx.http"), cluster: ClusterNode? = nil) {
        self.cluster = cluster
        self.database = database
        self.decoder = RequestDecoder(maxBatch: maxBatch, maxSearchResults: readLimits.maxSearchResults)
        self.maxMetadataBytes = maxMetadataBytes
        self.readLimits = readLimits
        self.version = version
        self.access = access
        self.minFreeDiskBytes = minFreeDiskBytes
        self.requestLogger = requestLogger
        router = Self.makeRouter()
        httpMetrics = HTTPMetrics(templates: router.routes.map(\.template))
    }

    /// The one route table. The store's routes are served twice: on the default collection at the root (the
    /// single-store API) and on every collection under `/collections/{collection}`.
    private static func makeRouter() -> Router<Handler> {
        var r = Router<Handler>()
        r.add("/health", [("GET", health), ("HEAD", health)])
        r.add("/health/live", [("GET", live), ("HEAD", live)])
        r.add("/health/ready", [("GET", ready), ("HEAD", ready)])
        r.add("/metrics", [("GET", metrics), ("HEAD", metrics)])
        r.add("/replication", [("GET", replicationStatus), ("HEAD", replicationStatus)])
        r.add("/replication/catalog", [("GET", replicationCatalog), ("HEAD", replicationCatalog)])
        r.add("/collections", [("GET", listCollections), ("HEAD", listCollections)])
        r.add("/collections/{collection}", [("PUT", putCollection), ("GET", getCollection), ("HEAD", getCollection),
                                            ("DELETE", deleteCollection)])
        for (template, handlers) in storeRoutes {
            r.add(template, handlers.map { method, handler in
                (method, { api, request, captures throws(Problem) in try handler(api, api.database.defaultEngine, request, captures) })
            })
            r.add("/collections/{collection}" + template, handlers.map { method, handler in
                (method, { api, request, captures throws(Problem) in
                    try handler(api, try api.collection(captures["collection"]), request, captures)
                })
            })
        }
        return r
    }

    /// The store routes, relative to their collection.
    static let storeRoutes: [(template: String, handlers: [(method: String, handler: StoreHandler)])] = [
        ("/vectors", [("POST", upsert), ("GET", { api, engine, request, _ throws(Problem) in .now(try api.page(request, on: engine)) })]),
        // Listed before /vectors/{id}, so that these are never read as ids.
        ("/vectors/get", [("POST", { api, engine, request, _ throws(Problem) in .now(try api.getVectors(request, on: engine)) })]),
        ("/vectors/delete", [("POST", { api, engine, request, _ throws(Problem) in try api.deleteVectors(request, on: engine) })]),
        ("/vectors/{id}", [("GET", getVector), ("HEAD", getVector), ("DELETE", deleteVector)]),
        ("/count", [("POST", { api, engine, request, _ throws(Problem) in .now(try api.count(request, on: engine)) })]),
        ("/search", [("POST", search)]),
        ("/search/batch", [("POST", batchSearch)]),
        ("/flush", [("POST", flush)]),
        ("/checkpoint", [("POST", checkpoint)]),
        ("/index/rebuild", [("POST", rebuildIndex)]),
        ("/stats", [("GET", stats), ("HEAD", stats)]),
        ("/indexes", [("GET", listIndexes), ("HEAD", listIndexes)]),
        ("/indexes/{field}", [("GET", describeIndex), ("HEAD", describeIndex), ("PUT", createIndex), ("DELETE", dropIndex)]),
        ("/snapshots", [("POST", createBackup), ("GET", listBackups), ("HEAD", listBackups)]),
        ("/snapshots/{name}", [("GET", downloadBackup), ("HEAD", downloadBackup), ("DELETE", deleteBackup)]),
        ("/replication/log", [("GET", replicationLog)]),
    ]

    /// The engine of the collection named `name`; 404 when there is none, 400 when the name is not valid.
    func collection(_ name: Substring) throws(Problem) -> Engine {
        guard let valid = CollectionName(String(name)) else { throw Problem.invalidCollectionName(String(name)) }
        guard let engine = database.engine(valid) else { throw Problem.collectionNotFound(valid) }
        return engine
    }

    public func routeTemplate(for path: String) -> String? { router.match(path)?.route.template }

    public func refusal(_ refusal: ServerRefusal) -> HTTPResponse { Problem(refusal).response }

    /// Refuses a request its key does not allow (`AccessPolicy`), before its body is read.
    public func admit(_ head: RequestHead) -> HTTPResponse? {
        guard access.keys != nil else { return nil }
        let route = router.match(head.path)?.route
        return access.refusal(method: head.method, template: route?.template, methods: route?.methods ?? [],
                              header: head.header)?.response
    }

    public func didCloseConnection(_ reason: ConnectionCloseReason) { httpMetrics.recordClosed(reason) }

    public func didRespond(route: String, method: String, status: Int, seconds: Double) {
        httpMetrics.record(route: route, method: method, status: status, seconds: seconds)
        requestLogger.debug("request", metadata: [
            "method": "\(method)", "route": "\(route)", "status": .stringConvertible(status),
            "microseconds": .stringConvertible(Int((seconds * 1e6).rounded())),
        ])
    }

    public func handle(_ request: HTTPRequest) -> HandlerResult {
        do {
            guard let match = router.match(request.path) else {
                throw Problem.notFound("no route \(request.method) \(request.path); see openapi/openapi.yaml for the API")
            }
            guard let handler = match.route.handlers.first(where: { $0.method == request.method })?.handler else {
                throw Problem.methodNotAllowed(request.method, path: match.route.template, allow: match.route.methods)
            }
            if let refusal = clusterRefusal(method: request.method, template: match.route.template, methods: match.route.methods) {
                throw refusal
            }
            return try handler(self, request, match.captures)
        } catch {
            return .now(error.response)
        }
    }

    // MARK: - Shared by the handlers

    /// Long maintenance work (checkpoints, rebuilds) runs here, one job at a time, so that it holds no
    /// server thread: the connection is suspended meanwhile and resumed with the answer.
    private let maintenance = DispatchQueue(label: "lynx.maintenance")

    func inBackground(_ work: @escaping @Sendable () throws(Problem) -> HTTPResponse) -> HandlerResult {
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

    /// Answers a write now, or (durable request or `--sync always`) after the committer has synced its LSN.
    /// A waiting request suspends its connection, so no server thread waits on fsync.
    func acknowledge(
        _ engine: Engine, lsn: UInt64, durable: Bool, status: Int = 200, body: @escaping @Sendable (inout JSONWriter, Bool) -> Void
    ) -> HandlerResult {
        let respond: @Sendable (Bool) -> HTTPResponse = { isDurable in Responses.object(status: status) { body(&$0, isDurable) } }
        if let cluster, case .sync(let replicas) = cluster.config.mode {
            return acknowledgeReplicated(engine, lsn: lsn, cluster: cluster, replicas: replicas, respond)
        }
        // In a cluster, only while the lease is surely held (LynxAPI+Replication.swift).
        let answer = cluster.map { Self.fenced($0, lsn: lsn, respond) } ?? respond
        guard durable || engine.acknowledgesDurableOnly else { return .now(answer(false)) }
        return afterDurable(engine, lsn) { result in
            switch result {
            case .success:
                return answer(true)
            case .failure(let error):
                return Self.notDurable(error, lsn: lsn)
            }
        }
    }

    static func notDurable(_ error: EngineError, lsn: UInt64) -> HTTPResponse {
        var problem = error.problem()
        problem.detail = "the write (lsn \(lsn)) was applied but could not be made durable: " + problem.detail
        return problem.response
    }

    /// Suspends the request until `lsn` is durable, then answers with `respond(result)`.
    func afterDurable(
        _ engine: Engine, _ lsn: UInt64, _ respond: @escaping @Sendable (Result<UInt64, EngineError>) -> HTTPResponse
    ) -> HandlerResult {
        .later { complete in engine.whenDurable(lsn) { complete(respond($0)) } }
    }

    /// Runs an engine call, turning its errors into problems (`batch`: the body named its vectors by index).
    func engineCall<T>(batch: Bool = false, _ body: () throws -> T) throws(Problem) -> T {
        do {
            return try body()
        } catch let error as EngineError {
            throw error.problem(batch: batch)
        } catch let error as CollectionError {
            throw error.problem
        } catch let error as BackupError {
            throw error.problem
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
        if let collectionError = self as? CollectionError { return collectionError.problem.response }
        if let backupError = self as? BackupError { return backupError.problem.response }
        return Problem.internalError("\(self)").response
    }
}

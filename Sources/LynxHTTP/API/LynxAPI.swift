import Dispatch
import LynxEngine
import LynxIndex
import LynxJSON
import Logging
import LynxReplication
import LynxTransport

/// The REST API: routes requests to the database's collections and renders answers. Thread-safe: called
/// concurrently on the server's worker threads; all state lives in the database and the metrics.
public final class LynxAPI: HTTPHandler, @unchecked Sendable {
    package typealias Handler = (LynxAPI, HTTPRequest, PathCaptures) throws(Problem) -> HandlerResult
    /// A route of one store: run against the collection the path names (or the default one).
    typealias StoreHandler = (LynxAPI, Engine, HTTPRequest, PathCaptures) throws(Problem) -> HandlerResult
    package typealias Routes = Router<Handler>

    let database: Database
    let decoder: RequestDecoder
    let httpMetrics: HTTPMetrics
    let version: String
    package let router: Routes
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
    /// When a write is acknowledged, and what the acknowledgement says.
    let acknowledger: WriteAcknowledger

    public init(database: Database, maxBatch: Int, maxMetadataBytes: Int = LynxAPI.defaultMaxMetadataBytes,
                readLimits: ReadLimits = ReadLimits(), version: String,
                access: AccessPolicy = .open, minFreeDiskBytes: UInt64 = LynxAPI.defaultMinFreeDiskBytes,
                requestLogger: Logger = Logger(label: "lynx.http"), cluster: ClusterNode? = nil) {
        self.cluster = cluster
        acknowledger = WriteAcknowledger(cluster: cluster)
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

    /// The one route table, each method with who may call it (`RouteAccess`). The store's routes are served twice: on the
    /// default collection at the root (the single-store API) and on every collection under `/collections/{collection}`.
    private static func makeRouter() -> Routes {
        var r = Routes()
        r.add("/health", [("GET", .probe, health), ("HEAD", .probe, health)])
        r.add("/health/live", [("GET", .open, live), ("HEAD", .open, live)])
        r.add("/health/ready", [("GET", .probe, ready), ("HEAD", .probe, ready)])
        r.add("/metrics", [("GET", .probe, metrics), ("HEAD", .probe, metrics)])
        r.add("/replication", [("GET", .read, replicationStatus), ("HEAD", .read, replicationStatus)])
        r.add("/replication/catalog", [("GET", .read, replicationCatalog), ("HEAD", .read, replicationCatalog)])
        r.add("/collections", [("GET", .read, listCollections), ("HEAD", .read, listCollections)])
        r.add("/collections/{collection}", [("PUT", .write, putCollection), ("GET", .read, getCollection),
                                            ("HEAD", .read, getCollection), ("DELETE", .write, deleteCollection)])
        for (template, handlers) in storeRoutes {
            r.add(template, handlers.map { method, access, handler in
                (method, access, { api, request, captures throws(Problem) in try handler(api, api.database.defaultEngine, request, captures) })
            })
            r.add("/collections/{collection}" + template, handlers.map { method, access, handler in
                (method, access, { api, request, captures throws(Problem) in
                    try handler(api, try api.collection(captures["collection"]), request, captures)
                })
            })
        }
        return r
    }

    /// The store routes, relative to their collection. A `POST` that only reads is a read; `GET /replication/log`
    /// is a write: the request is also the follower's acknowledgement, which `--replication sync` counts, so a
    /// read-only key must not be able to make one.
    static let storeRoutes: [(template: String, handlers: [(method: String, access: RouteAccess, handler: StoreHandler)])] = [
        ("/vectors", [("POST", .write, upsert),
                      ("GET", .read, { api, engine, request, _ throws(Problem) in .now(try api.page(request, on: engine)) })]),
        // Listed before /vectors/{id}, so that these are never read as ids.
        ("/vectors/get", [("POST", .read, { api, engine, request, _ throws(Problem) in .now(try api.getVectors(request, on: engine)) })]),
        ("/vectors/delete", [("POST", .write, { api, engine, request, _ throws(Problem) in try api.deleteVectors(request, on: engine) })]),
        ("/vectors/{id}", [("GET", .read, getVector), ("HEAD", .read, getVector), ("DELETE", .write, deleteVector)]),
        ("/count", [("POST", .read, { api, engine, request, _ throws(Problem) in .now(try api.count(request, on: engine)) })]),
        ("/search", [("POST", .read, search)]),
        ("/search/batch", [("POST", .read, batchSearch)]),
        ("/flush", [("POST", .write, flush)]),
        ("/checkpoint", [("POST", .write, checkpoint)]),
        ("/index/rebuild", [("POST", .write, rebuildIndex)]),
        ("/stats", [("GET", .read, stats), ("HEAD", .read, stats)]),
        ("/indexes", [("GET", .read, listIndexes), ("HEAD", .read, listIndexes)]),
        ("/indexes/{field}", [("GET", .read, describeIndex), ("HEAD", .read, describeIndex), ("PUT", .write, createIndex),
                              ("DELETE", .write, dropIndex)]),
        ("/snapshots", [("POST", .write, createBackup), ("GET", .read, listBackups), ("HEAD", .read, listBackups)]),
        ("/snapshots/{name}", [("GET", .read, downloadBackup), ("HEAD", .read, downloadBackup), ("DELETE", .write, deleteBackup)]),
        ("/replication/log", [("GET", .write, replicationLog)]),
    ]

    /// The engine of the collection named `name`; 404 when there is none, 400 when the name is not valid.
    func collection(_ name: Substring) throws(Problem) -> Engine {
        guard let valid = CollectionName(String(name)) else { throw Problem.invalidCollectionName(String(name)) }
        guard let engine = database.engine(valid) else { throw Problem.collectionNotFound(valid) }
        return engine
    }

    public func match(_ path: String) -> (any HTTPRouteMatch)? { router.match(path) }

    public func refusal(_ refusal: ServerRefusal) -> HTTPResponse { Problem(refusal).response }

    /// Refuses a request its key does not allow (`AccessPolicy`), before its body is read. A method a route lacks,
    /// or a path no route has, passes as a read: its 404 or 405 changes nothing.
    public func admit(_ head: RequestHead, match: (any HTTPRouteMatch)?) -> HTTPResponse? {
        guard access.keys != nil else { return nil }
        let route = (match as? Routes.Match)?.route
        return access.refusal(access: route?.endpoint(head.method)?.access ?? .read, method: head.method,
                              template: route?.template, header: head.header)?.response
    }

    public func didCloseConnection(_ reason: ConnectionCloseReason) { httpMetrics.recordClosed(reason) }

    public func didRespond(route: String, method: String, status: Int, seconds: Double) {
        httpMetrics.record(route: route, method: method, status: status, seconds: seconds)
        requestLogger.debug("request", metadata: [
            "method": "\(method)", "route": "\(route)", "status": .stringConvertible(status),
            "microseconds": .stringConvertible(Int((seconds * 1e6).rounded())),
        ])
    }

    public func handle(_ request: HTTPRequest, match: (any HTTPRouteMatch)?) -> HandlerResult {
        do {
            guard let match = match as? Routes.Match else {
                throw Problem.notFound("no route \(request.method) \(request.path); see openapi/openapi.yaml for the API")
            }
            guard let (_, handler) = match.route.endpoint(request.method) else {
                throw Problem.methodNotAllowed(request.method, path: match.route.template, allow: match.route.methods)
            }
            return try handler(self, request, match.captures)
        } catch {
            return .now(error.response)
        }
    }

    // MARK: - Shared by the handlers

    /// Runs long work where the layer below schedules it (`schedule`: a store's maintenance or the catalog's
    /// changes), holding no server thread: the connection is suspended meanwhile and resumed with the answer.
    func inBackground(_ schedule: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
                      _ work: @escaping @Sendable () throws(Problem) -> HTTPResponse) -> HandlerResult {
        .later { complete in
            schedule {
                do {
                    complete(try work())
                } catch {
                    complete(error.response)
                }
            }
        }
    }

    /// Makes a client's write through `WriteAcknowledger.write` (which applies it and decides when it may be
    /// acknowledged) and answers with what it says: `body` writes the answer's members from the result and whether
    /// the write is durable. A waiting request suspends its connection, so no server thread waits on fsync or on
    /// followers. `batch`: the body named its vectors by index (for the errors); `created`: the answer is 201
    /// when the write made something (200 when it was there already).
    func write(
        _ write: StoreWrite, to engine: Engine, wait: WriteWait, batch: Bool = false, created: Bool = false,
        body: @escaping @Sendable (inout JSONWriter, StoreWriteResult, Bool) -> Void
    ) throws(Problem) -> HandlerResult {
        let (result, ack) = try engineCall(batch: batch) { try acknowledger.write(write, to: engine, wait: wait) }
        let lsn = result.lsn
        let status = created && !result.acknowledgedAtOnce ? 201 : 200
        let respond: @Sendable (Acknowledgement) -> HTTPResponse = { ack in
            switch ack {
            case .acknowledged(let isDurable):
                return Responses.object(status: status) { body(&$0, result, isDurable) }
            case .notDurable(let error):
                var problem = error.problem()
                problem.detail = "the write (lsn \(lsn)) was applied but could not be made durable: " + problem.detail
                return problem.response
            case .replicationTimeout(let replicas, let seconds):
                return Problem.replicationTimeout(lsn: lsn, replicas: replicas, seconds: seconds).response
            case .leadershipLost(let node):
                return Problem.leadershipLost(node: node, lsn: lsn).response
            }
        }
        switch ack {
        case .decided(let ack):
            return .now(respond(ack))
        case .pending(let start):
            return .later { complete in start { complete(respond($0)) } }
        }
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
        } catch {
            let problem = Problem(error, batch: batch)
            // The client's problem leaves out what names server files; the log keeps all of it.
            if problem.status == 500 { requestLogger.error("internal error", metadata: ["error": "\(error)"]) }
            throw problem
        }
    }
}

extension Problem {
    /// The one mapping of errors to problems: the API's own, the engine's (`batch`: the body named its vectors
    /// by index), and anything else as `unexpected` (500, without its text).
    package init(_ error: any Error, batch: Bool = false) {
        switch error {
        case let problem as Problem: self = problem
        case let error as EngineError: self = error.problem(batch: batch)
        case let error as CollectionError: self = error.problem
        case let error as BackupError: self = error.problem
        default: self = .unexpected(error)
        }
    }
}

extension Error {
    /// Every error leaves the API as a problem.
    package var response: HTTPResponse { Problem(self).response }
}

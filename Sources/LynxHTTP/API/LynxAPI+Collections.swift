import LynxEngine
import LynxJSON
import LynxTransport

/// The routes of the database: collections, health and metrics.
extension LynxAPI {
    static func listCollections(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        return .now(Responses.collections(api.database.collections))
    }

    static func putCollection(_ api: LynxAPI, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let name = try collectionName(captures)
        guard RequestDecoder.isJSON(request.contentType) else { throw Problem.unsupportedMediaType(request.contentType) }
        let settings = try RequestDecoder.collectionSettings(RequestDecoder.json(request))
        // Creation does file work (fsyncs): off the server's threads, like other maintenance.
        return api.inBackground({ api.database.scheduleCatalogChange($0) }) { () throws(Problem) in
            let (engine, created) = try api.engineCall { try api.database.create(name, settings) }
            return Responses.collection(name, engine, status: created ? 201 : 200)
        }
    }

    static func getCollection(_ api: LynxAPI, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let name = try collectionName(captures)
        guard let engine = api.database.engine(name) else { throw Problem.collectionNotFound(name) }
        return .now(Responses.collection(name, engine))
    }

    static func deleteCollection(_ api: LynxAPI, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let name = try collectionName(captures)
        return api.inBackground({ api.database.scheduleCatalogChange($0) }) { () throws(Problem) in
            try api.engineCall { try api.database.delete(name) }
            return Responses.object { w in w.key("deleted"); w.string(name.value) }
        }
    }

    static func health(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        .now(Responses.health(api.database) { api.writeReplicationHealth(to: &$0) })
    }

    static func metrics(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        let collections = api.database.collections
        return .now(MetricsExposition.render(collections: collections, disk: api.database.diskSpace(),
                                             http: api.httpMetrics, version: api.version) { out in
            if let cluster = api.cluster { MetricsExposition.replication(cluster, collections: collections, to: &out) }
        })
    }

    private static func collectionName(_ captures: PathCaptures) throws(Problem) -> CollectionName {
        let text = String(captures["collection"])
        guard let name = CollectionName(text) else { throw Problem.invalidCollectionName(text) }
        return name
    }
}

import LynxEngine
import LynxJSON
import LynxTransport

/// The routes of one store (a collection): writes, reads, searches and maintenance.
extension LynxAPI {
    static func upsert(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        let wait = try RequestDecoder.writeWait(request)
        guard RequestDecoder.isJSON(request.contentType) else { throw Problem.unsupportedMediaType(request.contentType) }
        let decoded: RequestDecoder.DecodedRecords
        if let fast = api.decoder.fastRecords(request.body, dimensionHint: engine.dimension) {
            decoded = fast
        } else {
            decoded = try api.decoder.records(RequestDecoder.json(request))
        }
        let records = decoded.records
        for (i, record) in records.enumerated() {
            if let size = record.metadata?.json.count, size > api.maxMetadataBytes {
                throw Problem.metadataTooLarge(field: decoded.isBatch ? "vectors[\(i)].metadata" : "metadata",
                                               size: size, limit: api.maxMetadataBytes)
            }
        }
        return try api.write(.upsert(records), to: engine, wait: wait, batch: decoded.isBatch) { w, result, isDurable in
            w.key("upserted"); w.int(result.count)
            w.key("lsn"); w.uint64(result.lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    static func deleteVector(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        let id = try RequestDecoder.pathID(captures["id"])
        let wait = try RequestDecoder.writeWait(request)
        return try api.write(.delete(id: id), to: engine, wait: wait) { w, result, isDurable in
            w.key("deleted"); w.uint64(id)
            w.key("lsn"); w.uint64(result.lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }

    static func getVector(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let id = try RequestDecoder.pathID(captures["id"])
        guard let record = try api.engineCall({ try engine.get(id) }) else {
            throw Problem.notFound("no vector with id \(id)")
        }
        return .now(Responses.record(record))
    }

    static func search(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let query = try api.decoder.search(RequestDecoder.json(request))
        let o = query.options
        let answer = try api.engineCall {
            try engine.search(query.vector, k: o.k, params: o.params, filter: o.filter, plan: o.plan,
                              includeMetadata: o.includeMetadata, includeVector: o.includeVector,
                              budget: api.readLimits.budget)
        }
        return .now(try Responses.searchResults(answer.items, plan: o.explain ? answer.plan : nil,
                                                limit: api.readLimits.maxResponseBytes))
    }

    static func batchSearch(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let query = try api.decoder.batchSearch(RequestDecoder.json(request))
        let o = query.options
        let answer = try api.engineCall(batch: true) {
            try engine.search(batch: query.queries, k: o.k, params: o.params, filter: o.filter, plan: o.plan,
                              includeMetadata: o.includeMetadata, includeVector: o.includeVector,
                              budget: api.readLimits.budget)
        }
        return .now(try Responses.batchSearchResults(answer.lists, plan: o.explain ? answer.plan : nil,
                                                     limit: api.readLimits.maxResponseBytes))
    }

    static func flush(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        try RequestDecoder.emptyOrEmptyObject(request)
        return api.afterDurable(engine, engine.lastLSN) { result in
            switch result {
            case .success(let durable):
                return Responses.object { w in w.key("durable_lsn"); w.uint64(durable) }
            case .failure(let error):
                return error.problem().response
            }
        }
    }

    static func checkpoint(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        try RequestDecoder.emptyOrEmptyObject(request)
        return api.inBackground({ engine.scheduleMaintenance($0) }) { () throws(Problem) in
            let report = try api.engineCall { try engine.checkpoint() }
            return Responses.object { w in
                w.key("checkpoint_seq"); w.uint64(report.checkpointSeq)
                w.key("lsn"); w.uint64(report.lsn)
                w.key("duration_seconds"); w.double(report.durationSeconds)
            }
        }
    }

    static func rebuildIndex(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        try RequestDecoder.emptyOrEmptyObject(request)
        return api.inBackground({ engine.scheduleMaintenance($0) }) { () throws(Problem) in
            let report = try api.engineCall { try engine.rebuildIndex() }
            return Responses.object { w in
                w.key("index"); w.string(report.index.rawValue)
                w.key("action"); w.string(report.action)
                w.key("duration_seconds"); w.double(report.durationSeconds)
            }
        }
    }

    static func stats(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        return .now(Responses.stats(engine.stats()))
    }
}

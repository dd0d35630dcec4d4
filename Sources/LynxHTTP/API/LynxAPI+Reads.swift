import LynxEngine
import LynxJSON
import LynxTransport

/// Reading in id order, by ids and by filter, and deleting many records in one transaction. Each handler acts on
/// the engine it is given (the collection the path names, or the default one).
extension LynxAPI {
    /// `GET /vectors?after=&limit=&include=&filter=`: one page of every record (or of those the filter passes),
    /// ascending by id.
    func page(_ request: HTTPRequest, on engine: Engine) throws(Problem) -> HTTPResponse {
        let page = try decoder.page(request)
        let records = try engineCall {
            try engine.records(after: page.after, limit: page.limit, matching: page.filter,
                               includeVector: page.includeVector, includeMetadata: page.includeMetadata,
                               budget: readLimits.budget)
        }
        return try Responses.page(records, limit: readLimits.maxResponseBytes)
    }

    /// `POST /vectors/get` with `{"ids": [...]}`: the records that exist, and the ids that do not.
    func getVectors(_ request: HTTPRequest, on engine: Engine) throws(Problem) -> HTTPResponse {
        try RequestDecoder.noQuery(request)
        let ids = try decoder.ids(RequestDecoder.json(request))
        let lookup = try engineCall { try engine.records(ids: ids, budget: readLimits.budget) }
        return try Responses.lookup(lookup, limit: readLimits.maxResponseBytes)
    }

    /// `POST /count` with no body, `{}` or `{"filter": ...}`: `{"count": n}`.
    func count(_ request: HTTPRequest, on engine: Engine) throws(Problem) -> HTTPResponse {
        try RequestDecoder.noQuery(request)
        let filter = try RequestDecoder.countFilter(request)
        let n = try engineCall { try engine.count(matching: filter) }
        return Responses.object { w in w.key("count"); w.int(n) }
    }

    /// `POST /vectors/delete[?durable=true]` with `{"ids": [...]}` or `{"filter": ...}`: one logged transaction.
    func deleteVectors(_ request: HTTPRequest, on engine: Engine) throws(Problem) -> HandlerResult {
        let wait = try RequestDecoder.writeWait(request)
        let selection: StoreWrite
        switch try decoder.deleteSelection(RequestDecoder.json(request)) {
        case .ids(let ids): selection = .deleteIDs(ids)
        case .filter(let filter): selection = .deleteMatching(filter)
        }
        return try write(selection, to: engine, wait: wait) { w, result, isDurable in
            w.key("deleted"); w.int(result.count)
            w.key("lsn"); w.uint64(result.lsn)
            w.key("durable"); w.bool(isDurable)
        }
    }
}

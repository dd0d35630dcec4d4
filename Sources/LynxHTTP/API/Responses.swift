import LynxEngine
import LynxJSON

/// Renders engine answers as JSON bodies.
enum Responses {
    static func object(status: Int = 200, _ fill: (inout JSONWriter) -> Void) -> HTTPResponse {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        fill(&w)
        w.endObject()
        return HTTPResponse(status: status, body: w.bytes)
    }

    static func record(_ record: VectorRecord) -> HTTPResponse {
        var w = JSONWriter(capacity: 16 + record.vector.count * 12 + (record.metadata?.json.count ?? 0))
        w.beginObject()
        w.key("id"); w.uint64(record.id)
        w.key("vector"); w.floatArray(record.vector)
        if let metadata = record.metadata { w.key("metadata"); w.raw(metadata.json) }
        w.endObject()
        return HTTPResponse(status: 200, body: w.bytes)
    }

    static func searchResults(_ results: [SearchResultItem], plan: SearchPlan?) -> HTTPResponse {
        var w = JSONWriter(capacity: 32 + results.count * 48)
        w.beginObject()
        w.key("results")
        writeHits(results, to: &w)
        if let plan { write(plan, to: &w) }
        w.endObject()
        return HTTPResponse(status: 200, body: w.bytes)
    }

    /// `{"results": [[hit, ...], ...]}`: one list per query, in the order of the request.
    static func batchSearchResults(_ lists: [[SearchResultItem]], plan: SearchPlan?) -> HTTPResponse {
        var w = JSONWriter(capacity: 32 + lists.reduce(0) { $0 + 8 + $1.count * 48 })
        w.beginObject()
        w.key("results")
        w.beginArray()
        for results in lists { writeHits(results, to: &w) }
        w.endArray()
        if let plan { write(plan, to: &w) }
        w.endObject()
        return HTTPResponse(status: 200, body: w.bytes)
    }

    /// `"plan": {"kind": ..., "estimated_matches": n | null}`.
    private static func write(_ plan: SearchPlan, to w: inout JSONWriter) {
        w.key("plan")
        w.beginObject()
        w.key("kind"); w.string(plan.kind.rawValue)
        w.key("estimated_matches")
        if let n = plan.estimatedMatches { w.int(n) } else { w.null() }
        w.endObject()
    }

    private static func writeHits(_ results: [SearchResultItem], to w: inout JSONWriter) {
        w.beginArray()
        for item in results {
            w.beginObject()
            w.key("id"); w.uint64(item.id)
            // Always finite: the engine rejects vectors whose distances could overflow float32.
            w.key("distance"); w.float(item.distance.isFinite ? item.distance : (item.distance < 0 ? -.greatestFiniteMagnitude : .greatestFiniteMagnitude))
            if let metadata = item.metadata { w.key("metadata"); w.raw(metadata.json) }
            if let vector = item.vector { w.key("vector"); w.floatArray(vector) }
            w.endObject()
        }
        w.endArray()
    }

    static func stats(_ s: StoreStats) -> HTTPResponse {
        object { w in
            w.key("count"); w.int(s.count)
            w.key("dimension"); w.int(s.dimension)
            w.key("metric"); w.string(s.metric.rawValue)
            w.key("index")
            w.beginObject()
            w.key("type"); w.string(s.index.rawValue)
            for (name, value) in s.indexParameters {
                w.key(name)
                if let n = Int64(value) { w.int64(n) } else if let d = Double(value) { w.double(d) } else { w.string(value) }
            }
            w.endObject()
            w.key("memory")
            w.beginObject()
            w.key("vector_bytes"); w.int(s.vectorBytes)
            w.key("index_bytes"); w.int(s.indexBytes)
            w.key("metadata_bytes"); w.int(s.metadataBytes)
            w.endObject()
            w.key("linking")
            writePending(pending: s.pending, linked: s.linked, to: &w)
            w.key("totals")
            w.beginObject()
            w.key("inserts"); w.uint64(s.inserts)
            w.key("deletes"); w.uint64(s.deletes)
            w.key("searches"); w.uint64(s.searches)
            w.endObject()
        }
    }

    /// `{"pending": n, "behind": bool, "linked_total": n}`: records acknowledged but not yet linked into the index.
    private static func writePending(pending: Int, linked: UInt64, to w: inout JSONWriter) {
        w.beginObject()
        w.key("pending"); w.int(pending)
        w.key("behind"); w.bool(pending > 0)
        w.key("linked_total"); w.uint64(linked)
        w.endObject()
    }

    static func health(_ engine: Engine) -> HTTPResponse {
        switch engine.status {
        case .recovering(let progress):
            var r = object(status: 503) { w in
                w.key("status"); w.string("recovering")
                w.key("progress"); w.double((progress * 1000).rounded() / 1000)
            }
            r.headers = [("Retry-After", "1")]
            return r
        case .failed(let reason):
            return object(status: 503) { w in
                w.key("status"); w.string("failed")
                w.key("reason"); w.string(reason)
            }
        case .ready:
            let log = engine.logReport()
            let count = engine.count, (pending, linked) = engine.linkingReport()
            return object { w in
                w.key("status"); w.string("ok")
                w.key("count"); w.int(count)
                w.key("linking")
                writePending(pending: pending, linked: linked, to: &w)
                w.key("wal")
                w.beginObject()
                w.key("enabled"); w.bool(log.enabled)
                w.key("last_lsn"); w.uint64(log.lastLSN)
                w.key("durable_lsn"); w.uint64(log.durableLSN)
                w.key("checkpoint_lag_bytes"); w.int(log.checkpointLagBytes)
                w.key("checkpoint_lag_frames"); w.int(log.checkpointLagFrames)
                w.key("checkpoint_age_seconds"); w.double((log.checkpointAgeSeconds * 1000).rounded() / 1000)
                w.key("checkpoint_seq"); w.uint64(log.checkpointSeq)
                w.endObject()
            }
        }
    }
}

import LynxEngine
import LynxJSON
import LynxTransport

/// Renders engine answers as JSON bodies.
enum Responses {
    static func object(status: Int = 200, _ fill: (inout JSONWriter) -> Void) -> HTTPResponse {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        fill(&w)
        w.endObject()
        return HTTPResponse(status: status, body: w.bytes)
    }

    /// `{"<key>": [{...}, ...]}`: one object per item, filled by `fill`.
    static func list<T>(_ key: String, _ items: [T], _ fill: (T, inout JSONWriter) -> Void) -> HTTPResponse {
        object { w in
            w.key(key)
            w.beginArray()
            for item in items {
                w.beginObject()
                fill(item, &w)
                w.endObject()
            }
            w.endArray()
        }
    }

    static func record(_ record: VectorRecord) -> HTTPResponse {
        var w = JSONWriter(capacity: 16 + record.vector.count * 12 + (record.metadata?.json.count ?? 0))
        writeRecord(id: record.id, vector: record.vector, metadata: record.metadata, to: &w)
        return HTTPResponse(status: 200, body: w.bytes)
    }

    static func searchResults(_ results: [SearchResultItem], plan: SearchPlan?, limit: Int) throws(Problem) -> HTTPResponse {
        var w = JSONWriter(capacity: min(limit, 32 + results.count * 48))
        w.beginObject()
        w.key("results")
        try writeHits(results, to: &w, limit: limit)
        if let plan { write(plan, to: &w) }
        w.endObject()
        return try answer(w, limit: limit)
    }

    /// `{"results": [[hit, ...], ...]}`: one list per query, in the order of the request.
    static func batchSearchResults(_ lists: [[SearchResultItem]], plan: SearchPlan?, limit: Int) throws(Problem) -> HTTPResponse {
        var w = JSONWriter(capacity: min(limit, 32 + lists.reduce(0) { $0 + 8 + $1.count * 48 }))
        w.beginObject()
        w.key("results")
        w.beginArray()
        for results in lists { try writeHits(results, to: &w, limit: limit) }
        w.endArray()
        if let plan { write(plan, to: &w) }
        w.endObject()
        return try answer(w, limit: limit)
    }

    /// Stops an answer once it holds more than `limit` bytes (`--max-response-bytes`); called after each item, so
    /// a refused answer grows no further than one item past the limit.
    static func check(_ w: JSONWriter, limit: Int) throws(Problem) {
        if w.bytes.count > limit { throw Problem.responseTooLarge(limit: limit) }
    }

    /// The finished answer, unless it passes `limit`.
    static func answer(_ w: JSONWriter, limit: Int) throws(Problem) -> HTTPResponse {
        try check(w, limit: limit)
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

    private static func writeHits(_ results: [SearchResultItem], to w: inout JSONWriter, limit: Int) throws(Problem) {
        w.beginArray()
        for item in results {
            try check(w, limit: limit)
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
            w.key("memory"); writeMemory(s.memory, to: &w)
            w.key("linking")
            writeLinking(s.linking, to: &w)
            w.key("totals")
            w.beginObject()
            w.key("inserts"); w.uint64(s.inserts)
            w.key("deletes"); w.uint64(s.deletes)
            w.key("searches"); w.uint64(s.searches)
            w.endObject()
        }
    }

    /// `{"vector_bytes": n, "code_bytes": n, ..., "total_bytes": n, "mapped_vector_bytes": n}`: the heap a store
    /// holds, by part, and the full vectors it reads in place from their files.
    static func writeMemory(_ memory: StoreMemory, to w: inout JSONWriter) {
        w.beginObject()
        for part in StoreMemory.Part.allCases {
            w.key(part.statsKey); w.int(memory[part])
        }
        w.key("total_bytes"); w.int(memory.total)
        w.key("mapped_vector_bytes"); w.int(memory.mappedVectorBytes)
        w.endObject()
    }

    /// `{"pending": n, "behind": bool, "linked_total": n}`: records acknowledged but not yet linked into the index.
    static func writeLinking(_ linking: LinkingReport, to w: inout JSONWriter) {
        w.beginObject()
        w.key("pending"); w.int(linking.pending)
        w.key("behind"); w.bool(linking.behind)
        w.key("linked_total"); w.uint64(linking.linked)
        w.endObject()
    }
}

extension StoreMemory.Part {
    /// The member of `memory` in /stats and `GET /collections/{name}`.
    var statsKey: String {
        switch self {
        case .vectors: return "vector_bytes"
        case .codes: return "code_bytes"
        case .index: return "index_bytes"
        case .pending: return "pending_bytes"
        case .metadata: return "metadata_bytes"
        case .metadataIndexes: return "metadata_index_bytes"
        }
    }
}

import LynxEngine
import LynxJSON
import LynxTransport

extension Responses {
    /// `{"vectors": [record, ...], "next_after": id | null}`.
    static func page(_ page: RecordPage, limit: Int) throws(Problem) -> HTTPResponse {
        var w = JSONWriter(capacity: min(limit, 64 + page.records.reduce(0) { $0 + 24 + ($1.vector?.count ?? 0) * 12 + ($1.metadata?.json.count ?? 0) }))
        w.beginObject()
        w.key("vectors")
        w.beginArray()
        for r in page.records {
            try check(w, limit: limit)
            writeRecord(id: r.id, vector: r.vector, metadata: r.metadata, to: &w)
        }
        w.endArray()
        w.key("next_after")
        if let next = page.nextAfter { w.uint64(next) } else { w.null() }
        w.endObject()
        return try answer(w, limit: limit)
    }

    /// `{"vectors": [record, ...], "missing": [id, ...]}`, both in the order asked.
    static func lookup(_ lookup: RecordLookup, limit: Int) throws(Problem) -> HTTPResponse {
        var w = JSONWriter(capacity: min(limit, 64 + lookup.missing.count * 12
                           + lookup.found.reduce(0) { $0 + 24 + $1.vector.count * 12 + ($1.metadata?.json.count ?? 0) }))
        w.beginObject()
        w.key("vectors")
        w.beginArray()
        for r in lookup.found {
            try check(w, limit: limit)
            writeRecord(id: r.id, vector: r.vector, metadata: r.metadata, to: &w)
        }
        w.endArray()
        w.key("missing")
        w.beginArray()
        for id in lookup.missing { w.uint64(id) }
        w.endArray()
        w.endObject()
        return try answer(w, limit: limit)
    }

    /// `{"id", "vector"?, "metadata"?}`: the members present that the read asked for.
    static func writeRecord(id: UInt64, vector: [Float]?, metadata: Metadata?, to w: inout JSONWriter) {
        w.beginObject()
        w.key("id"); w.uint64(id)
        if let vector { w.key("vector"); w.floatArray(vector) }
        if let metadata { w.key("metadata"); w.raw(metadata.json) }
        w.endObject()
    }
}

import LynxEngine
import LynxIndex
import LynxJSON
import LynxTransport

extension Responses {
    /// `/health`: 200 when every collection is ready; 503 while any recovers (with Retry-After) or has failed.
    /// The top-level members describe the default collection, as they did before collections existed.
    static func health(_ database: Database, extra: (inout JSONWriter) -> Void = { _ in }) -> HTTPResponse {
        let all = database.collections
        let recovering = all.compactMap { c -> Double? in
            if case .recovering(let p) = c.engine.status { return p }
            return nil
        }
        let failed = all.compactMap { c -> (CollectionName, String)? in
            if case .failed(let reason) = c.engine.status { return (c.name, reason) }
            return nil
        }
        let status = !failed.isEmpty ? "failed" : (!recovering.isEmpty ? "recovering" : "ok")
        var r = object(status: status == "ok" ? 200 : 503) { w in
            w.key("status"); w.string(status)
            if !recovering.isEmpty {
                // The least advanced collection's share of its log replayed.
                w.key("progress"); w.double(((recovering.min() ?? 0) * 1000).rounded() / 1000)
            }
            if let (name, reason) = failed.first {
                w.key("reason"); w.string(name == .default ? reason : "collection \(name): \(reason)")
            }
            if status == "ok" { writeStoreState(database.defaultEngine, to: &w) }
            w.key("collections")
            w.beginArray()
            for (name, engine) in all {
                w.beginObject()
                w.key("name"); w.string(name.value)
                w.key("status"); w.string(engine.status.word)
                if engine.status == .ready {
                    let log = engine.logReport()
                    w.key("count"); w.int(engine.count)
                    w.key("pending"); w.int(engine.pendingCount)
                    w.key("checkpoint_lag_bytes"); w.int(log.checkpointLagBytes)
                    w.key("checkpoint_lag_frames"); w.int(log.checkpointLagFrames)
                }
                w.endObject()
            }
            w.endArray()
            extra(&w)
        }
        if status == "recovering" { r.headers = [("Retry-After", "1")] }
        return r
    }

    /// `count`, `linking` and `wal` of one ready store.
    static func writeStoreState(_ engine: Engine, to w: inout JSONWriter) {
        let log = engine.logReport()
        let count = engine.count, linking = engine.linkingReport()
        w.key("count"); w.int(count)
        w.key("linking")
        writeLinking(linking, to: &w)
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

    /// `GET /collections`: every collection with its settings and record count, `default` first.
    static func collections(_ all: [(name: CollectionName, engine: Engine)]) -> HTTPResponse {
        var w = JSONWriter(capacity: 64 + all.count * 160)
        w.beginObject()
        w.key("collections")
        w.beginArray()
        for (name, engine) in all {
            w.beginObject()
            w.key("name"); w.string(name.value)
            w.key("settings"); w.write(settingsValue(engine.storedSettings))
            w.key("status"); w.string(engine.status.word)
            w.key("count"); w.int(engine.count)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return HTTPResponse(status: 200, body: w.bytes)
    }

    /// `GET /collections/{name}` (and the answer to its `PUT`): settings, status, count, linking and log state.
    static func collection(_ name: CollectionName, _ engine: Engine, status: Int = 200) -> HTTPResponse {
        object(status: status) { w in
            w.key("name"); w.string(name.value)
            w.key("settings"); w.write(settingsValue(engine.storedSettings))
            w.key("status"); w.string(engine.status.word)
            if engine.status == .ready {
                writeStoreState(engine, to: &w)
                w.key("memory"); writeMemory(engine.stats().memory, to: &w)
            }
        }
    }

    /// `{"dimension", "metric", "index", the structural parameters (integers as numbers), "quantization", "on_disk"}`.
    static func settingsValue(_ s: StoredCollectionSettings) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("dimension", .number(JSONNumber(Int64(s.dimension)))),
            ("metric", .string(s.metric.rawValue)),
            ("index", .string(s.index.kind.rawValue)),
        ]
        for (parameter, value) in s.index.values.sorted(by: { $0.parameter.key < $1.parameter.key }) {
            members.append((parameter.key, .number(JSONNumber(Int64(value)))))
        }
        members.append((Quantization.key, RequestDecoder.quantizationValue(s.index.quantization)))
        members.append((IndexSpec.onDiskKey, .bool(s.index.onDisk)))
        return .object(JSONObject(members: members.map { (key: $0.0, value: $0.1) }))
    }
}

extension EngineStatus {
    /// `ready`, `recovering` or `failed`.
    var word: String {
        switch self {
        case .ready: return "ready"
        case .recovering: return "recovering"
        case .failed: return "failed"
        }
    }
}

import LynxEngine

/// Renders `/metrics` in the Prometheus text exposition format (version 0.0.4).
enum MetricsExposition {
    static func render(engine: Engine, http: HTTPMetrics, version: String) -> HTTPResponse {
        var out = PrometheusText()
        out.gauge("lynx_build_info", "Build information; the value is always 1.", [(["version"], [version], 1)])

        out.header("lynx_http_requests_total", "counter", "HTTP requests answered, by route template, method and status code.")
        for (labels, value) in http.requestCounts() {
            out.sample("lynx_http_requests_total", zip(HTTPMetrics.requestLabelNames, labels).map { ($0, $1) }, Double(value))
        }
        out.header("lynx_http_request_duration_seconds", "histogram", "Time from the request's headers to its response being queued.")
        for (route, histogram) in zip(http.routes, http.durations).sorted(by: { $0.0 < $1.0 }) {
            out.histogramSamples("lynx_http_request_duration_seconds", [("route", route)], histogram)
        }

        let stats = engine.stats()
        out.gauge("lynx_vectors", "Vectors stored.", [([], [], Double(stats.count))])
        out.header("lynx_memory_bytes", "gauge", "Estimated memory held, by kind.")
        out.sample("lynx_memory_bytes", [("kind", "vectors")], Double(stats.vectorBytes))
        out.sample("lynx_memory_bytes", [("kind", "index")], Double(stats.indexBytes))
        out.sample("lynx_memory_bytes", [("kind", "metadata")], Double(stats.metadataBytes))
        let m = engine.metrics
        out.counter("lynx_upserts_total", "Records upserted.", Double(m.upserts.current))
        out.counter("lynx_deletes_total", "Records deleted.", Double(m.deletes.current))
        out.counter("lynx_searches_total", "Searches answered.", Double(m.searches.current))
        out.gauge("lynx_index_pending_vectors", "Records acknowledged and searchable (exactly) but not yet linked into the index.",
                  [([], [], Double(stats.pending))])
        out.counter("lynx_index_linked_total", "Pending records the builder linked into the index.", Double(m.linked.current))
        out.header("lynx_index_link_duration_seconds", "histogram", "Duration of one builder step (planning and applying its records' links).")
        out.histogramSamples("lynx_index_link_duration_seconds", [], m.linkDuration)
        out.counter("lynx_index_pending_full_rejections_total", "Writes refused with 503 because the pending records stayed at the bound.",
                    Double(m.pendingFullRejections.current))

        let log = engine.logReport()
        out.gauge("lynx_wal_enabled", "1 when writes go through the write-ahead log.", [([], [], log.enabled ? 1 : 0)])
        out.gauge("lynx_wal_checkpoint_lag_bytes", "Bytes of log not yet covered by a snapshot.", [([], [], Double(log.checkpointLagBytes))])
        out.gauge("lynx_wal_checkpoint_lag_frames", "Log frames not yet covered by a snapshot.", [([], [], Double(log.checkpointLagFrames))])
        out.gauge("lynx_wal_checkpoint_age_seconds", "Seconds since the last completed checkpoint (or since start).", [([], [], log.checkpointAgeSeconds)])
        out.gauge("lynx_wal_unsynced_bytes", "Bytes appended to the log but not yet fdatasync'd.", [([], [], Double(log.unsyncedBytes))])
        out.gauge("lynx_wal_last_lsn", "LSN of the newest acknowledged write.", [([], [], Double(log.lastLSN))])
        out.gauge("lynx_wal_durable_lsn", "Every write up to this LSN is durable.", [([], [], Double(log.durableLSN))])
        out.gauge("lynx_checkpoint_seq", "Sequence number of the newest snapshot.", [([], [], Double(log.checkpointSeq))])
        out.counter("lynx_wal_bytes_written_total", "Bytes appended to the log.", Double(m.walBytesWritten.current))
        out.header("lynx_wal_fsync_duration_seconds", "histogram", "Duration of the log's fdatasync calls.")
        out.histogramSamples("lynx_wal_fsync_duration_seconds", [], m.fsyncDuration)
        out.counter("lynx_wal_fsync_errors_total", "Failed fdatasync calls (each one stops the store from accepting writes).", Double(m.fsyncErrors.current))
        out.header("lynx_search_plans_total", "counter", "Searches by the plan that ran them: exact (the filter's matches scored exactly), graph (HNSW traversal with the filter inside), scan (Flat or IVF search with the filter inside), unfiltered.")
        let plans = Dictionary(m.searchPlans.snapshot().map { ($0.0[0], $0.1) }, uniquingKeysWith: +)
        for kind in SearchPlan.Kind.allCases { out.sample("lynx_search_plans_total", [("plan", kind.rawValue)], Double(plans[kind.rawValue] ?? 0)) }
        out.header("lynx_wal_append_errors_total", "counter", "Failed log appends (the write was refused, nothing applied), by reason.")
        for (labels, value) in m.appendErrors.snapshot() { out.sample("lynx_wal_append_errors_total", [("reason", labels[0])], Double(value)) }
        out.counter("lynx_checkpoints_total", "Checkpoints, by result.", m.checkpoints, ["success", "failure"])
        out.counter("lynx_checkpoint_row_chunks_total", "Vector row chunks (1,024 rows each) that checkpoints wrote to a new file (changed since the last checkpoint) or reused, by action.",
                    m.checkpointRowChunks, ["written", "reused"])
        out.header("lynx_checkpoint_duration_seconds", "histogram", "Duration of checkpoints (capture, snapshot write, log restart).")
        out.histogramSamples("lynx_checkpoint_duration_seconds", [], m.checkpointDuration)
        out.gauge("lynx_recovery_duration_seconds", "Duration of the last start-up recovery.", [([], [], m.recoveryDuration.current)])
        out.gauge("lynx_recovery_frames_replayed", "Log frames replayed by the last start-up recovery.", [([], [], m.recoveryFramesReplayed.current)])
        out.header("lynx_wal_invalid_frames_total", "counter", "Log frames found invalid at recovery (replay stopped there), by reason.")
        for (labels, value) in m.walInvalidFrames.snapshot() { out.sample("lynx_wal_invalid_frames_total", [("reason", labels[0])], Double(value)) }

        return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(out.text.utf8))
    }
}

/// A builder for the text exposition format.
struct PrometheusText {
    var text = ""

    mutating func header(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(Self.format(value))\n"
    }

    mutating func gauge(_ name: String, _ help: String, _ samples: [([String], [String], Double)]) {
        header(name, "gauge", help)
        for (names, values, value) in samples { sample(name, Array(zip(names, values)), value) }
    }

    mutating func counter(_ name: String, _ help: String, _ value: Double) {
        header(name, "counter", help)
        sample(name, [], value)
    }

    /// A counter with one label, one sample per value in `values` (0 for a value never counted).
    mutating func counter(_ name: String, _ help: String, _ counter: LabeledCounter, _ values: [String]) {
        header(name, "counter", help)
        let counts = counter.snapshot()
        for value in values {
            sample(name, [(counter.labelNames[0], value)], Double(counts.first(where: { $0.0 == [value] })?.1 ?? 0))
        }
    }

    mutating func histogramSamples(_ name: String, _ labels: [(String, String)], _ histogram: Histogram) {
        let snap = histogram.snapshot()
        for (bound, count) in zip(histogram.bounds, snap.cumulative) {
            sample(name + "_bucket", labels + [("le", Self.format(bound))], Double(count))
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(snap.count))
        sample(name + "_sum", labels, snap.sum)
        sample(name + "_count", labels, Double(snap.count))
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}

import LynxEngine
import LynxSupport
import LynxTransport

/// Renders `/metrics` in the Prometheus text exposition format (version 0.0.4).
enum MetricsExposition {
    /// One collection's figures, read once per scrape.
    private struct Store {
        var labels: [(String, String)]
        var engine: Engine
        var stats: StoreStats
        var log: LogReport
    }

    static func render(collections: [(name: CollectionName, engine: Engine)], disk: (availableBytes: UInt64, totalBytes: UInt64)?, http: HTTPMetrics,
                       version: String, extra: (inout PrometheusText) -> Void = { _ in }) -> HTTPResponse {
        var out = PrometheusText()
        out.gauge("lynx_build_info", "Build information; the value is always 1.", [(["version"], [version], 1)])
        if let disk {
            out.gauge("lynx_disk_available_bytes", "Bytes still free for lynxd on the data directory's filesystem.",
                      [([], [], Double(disk.availableBytes))])
            out.gauge("lynx_disk_size_bytes", "Size of the data directory's filesystem.", [([], [], Double(disk.totalBytes))])
        }

        out.header("lynx_http_requests_total", "counter", "HTTP requests answered, by route template, method and status code.")
        for (labels, value) in http.requestCounts() {
            out.sample("lynx_http_requests_total", zip(HTTPMetrics.requestLabelNames, labels).map { ($0, $1) }, Double(value))
        }
        out.header("lynx_http_connections_closed_total", "counter",
                   "Connections the server closed by itself: past the request deadline, evicted past a high-water mark, or after an answer written during the upload.")
        for (reason, value) in http.closedConnections() {
            out.sample("lynx_http_connections_closed_total", [("reason", reason)], Double(value))
        }
        out.header("lynx_http_request_duration_seconds", "histogram", "Time from the request's headers to its response being queued.")
        for (route, histogram) in zip(http.routes, http.durations).sorted(by: { $0.0 < $1.0 }) {
            out.histogramSamples("lynx_http_request_duration_seconds", [("route", route)], histogram)
        }

        let stores = collections.map { c in
            Store(labels: [("collection", c.name.value)], engine: c.engine, stats: c.engine.stats(), log: c.engine.logReport())
        }
        func gauge(_ name: String, _ help: String, _ value: (Store) -> Double) {
            out.header(name, "gauge", help)
            for s in stores { out.sample(name, s.labels, value(s)) }
        }
        func counter(_ name: String, _ help: String, _ value: (Store) -> Double) {
            out.header(name, "counter", help)
            for s in stores { out.sample(name, s.labels, value(s)) }
        }
        func histogram(_ name: String, _ help: String, _ value: (Store) -> Histogram) {
            out.header(name, "histogram", help)
            for s in stores { out.histogramSamples(name, s.labels, value(s)) }
        }
        func labeled(_ name: String, _ help: String, _ label: String, _ value: (Store) -> LabeledCounter, fixed: [String]? = nil) {
            out.header(name, "counter", help)
            for s in stores {
                let counts = value(s).snapshot()
                if let fixed {
                    for v in fixed { out.sample(name, s.labels + [(label, v)], Double(counts.first(where: { $0.0 == [v] })?.1 ?? 0)) }
                } else {
                    for (labels, count) in counts { out.sample(name, s.labels + [(label, labels[0])], Double(count)) }
                }
            }
        }

        out.gauge("lynx_collections", "Collections served, the default one included.", [([], [], Double(stores.count))])
        gauge("lynx_collection_ready", "1 when the collection serves reads and writes (0 while it recovers or after a failure).") {
            $0.engine.status == .ready ? 1 : 0
        }
        gauge("lynx_vectors", "Vectors stored.") { Double($0.stats.count) }
        out.header("lynx_memory_bytes", "gauge",
                   "Estimated heap held, by part: vectors, codes, index, pending, metadata, metadata_indexes.")
        for s in stores {
            for part in StoreMemory.Part.allCases {
                out.sample("lynx_memory_bytes", s.labels + [("part", part.rawValue)], Double(s.stats.memory[part]))
            }
        }
        gauge("lynx_mapped_vector_bytes", "Full vectors read in place from their files (on_disk): file pages, not heap.") {
            Double($0.stats.memory.mappedVectorBytes)
        }
        counter("lynx_upserts_total", "Records upserted.") { Double($0.engine.metrics.upserts.current) }
        counter("lynx_deletes_total", "Records deleted.") { Double($0.engine.metrics.deletes.current) }
        counter("lynx_searches_total", "Searches answered.") { Double($0.engine.metrics.searches.current) }
        labeled("lynx_search_plans_total",
                "Searches by the plan that ran them: exact (the filter's matches scored exactly), graph (HNSW traversal with the filter inside), scan (Flat or IVF search with the filter inside), unfiltered.",
                "plan", { $0.engine.metrics.searchPlans }, fixed: SearchPlan.Kind.allCases.map(\.rawValue))
        gauge("lynx_index_pending_vectors", "Records acknowledged and searchable (exactly) but not yet linked into the index.") {
            Double($0.stats.linking.pending)
        }
        counter("lynx_index_linked_total", "Pending records the builder linked into the index.") { Double($0.engine.metrics.linked.current) }
        histogram("lynx_index_link_duration_seconds", "Duration of one builder step (planning and applying its records' links).") {
            $0.engine.metrics.linkDuration
        }
        counter("lynx_index_pending_full_rejections_total", "Writes refused with 503 because the pending records stayed at the bound.") {
            Double($0.engine.metrics.pendingFullRejections.current)
        }

        gauge("lynx_wal_enabled", "1 when writes go through the write-ahead log.") { $0.log.enabled ? 1 : 0 }
        gauge("lynx_wal_checkpoint_lag_bytes", "Bytes of log not yet covered by a snapshot.") { Double($0.log.checkpointLagBytes) }
        gauge("lynx_wal_checkpoint_lag_frames", "Log frames not yet covered by a snapshot.") { Double($0.log.checkpointLagFrames) }
        gauge("lynx_wal_checkpoint_age_seconds", "Seconds since the last completed checkpoint (or since start).") { $0.log.checkpointAgeSeconds }
        gauge("lynx_wal_unsynced_bytes", "Bytes appended to the log but not yet fdatasync'd.") { Double($0.log.unsyncedBytes) }
        gauge("lynx_wal_last_lsn", "LSN of the newest acknowledged write.") { Double($0.log.lastLSN) }
        gauge("lynx_wal_durable_lsn", "Every write up to this LSN is durable.") { Double($0.log.durableLSN) }
        gauge("lynx_checkpoint_seq", "Sequence number of the newest snapshot.") { Double($0.log.checkpointSeq) }
        counter("lynx_wal_bytes_written_total", "Bytes appended to the log.") { Double($0.engine.metrics.walBytesWritten.current) }
        histogram("lynx_wal_fsync_duration_seconds", "Duration of the log's fdatasync calls.") { $0.engine.metrics.fsyncDuration }
        counter("lynx_wal_fsync_errors_total", "Failed fdatasync calls (each one stops the store from accepting writes).") {
            Double($0.engine.metrics.fsyncErrors.current)
        }
        labeled("lynx_wal_append_errors_total", "Failed log appends (the write was refused, nothing applied), by reason.", "reason") {
            $0.engine.metrics.appendErrors
        }
        labeled("lynx_checkpoints_total", "Checkpoints, by result.", "result", { $0.engine.metrics.checkpoints }, fixed: ["success", "failure"])
        labeled("lynx_checkpoint_row_chunks_total",
                "Vector row chunks (1,024 rows each) that checkpoints wrote to a new file (changed since the last checkpoint) or reused, by action.",
                "action", { $0.engine.metrics.checkpointRowChunks }, fixed: ["written", "reused"])
        histogram("lynx_checkpoint_duration_seconds", "Duration of checkpoints (capture, snapshot write, log restart).") {
            $0.engine.metrics.checkpointDuration
        }
        gauge("lynx_recovery_duration_seconds", "Duration of the last start-up recovery.") { $0.engine.metrics.recoveryDuration.current }
        gauge("lynx_recovery_frames_replayed", "Log frames replayed by the last start-up recovery.") { Double($0.engine.metrics.recoveryFramesReplayed.current) }
        labeled("lynx_wal_invalid_frames_total", "Log frames found invalid at recovery (replay stopped there), by reason.", "reason") {
            $0.engine.metrics.walInvalidFrames
        }
        extra(&out)

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

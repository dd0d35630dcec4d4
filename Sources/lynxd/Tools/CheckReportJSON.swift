import LynxEngine
import LynxJSON
import LynxStorage

/// `lynxd check --json`: the report as one JSON object (docs/OPERATIONS.md shows one). Keys are snake_case; paths
/// are relative to the data directory.
enum CheckReportJSON {
    static func render(_ report: DataDirectoryCheckReport) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("data_dir"); w.string(report.path)
        w.key("healthy"); w.bool(report.isHealthy)
        w.key("lynxd_running"); w.bool(report.lockHolder != nil)
        if let pid = report.lockHolder, pid > 0 { w.key("lynxd_pid"); w.int(Int(pid)) }
        w.key("findings"); findings(report.findings, &w)
        w.key("collections")
        w.beginArray()
        for store in report.stores { self.store(store, &w) }
        w.endArray()
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    private static func store(_ store: StoreCheckReport, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("name"); w.string(store.collection)
        w.key("folder"); w.string(store.folder)
        w.key("healthy"); w.bool(store.isHealthy)
        if let dimension = store.dimension, let metric = store.metric, let index = store.index {
            w.key("manifest")
            w.beginObject()
            w.key("dimension"); w.int(dimension)
            w.key("metric"); w.string(metric)
            w.key("index"); w.string(index)
            w.endObject()
        }
        w.key("snapshots")
        w.beginArray()
        for s in store.snapshots {
            w.beginObject()
            w.key("file"); w.string(s.file)
            w.key("seq"); w.uint64(s.seq)
            if let lsn = s.lastLSN { w.key("last_lsn"); w.uint64(lsn) }
            switch s.status {
            case .valid: w.key("valid"); w.bool(true)
            case .damaged(let reason): w.key("valid"); w.bool(false); w.key("reason"); w.string(reason)
            }
            w.key("loaded_by_recovery"); w.bool(s.chosen)
            w.key("checksums_only"); w.bool(s.checksumsOnly)
            w.key("row_chunk_files"); w.int(s.rowChunks)
            w.key("damaged_row_chunk_files"); strings(s.damagedRowChunks, &w)
            w.endObject()
        }
        w.endArray()
        w.key("row_chunk_files"); w.int(store.rowChunkFiles)
        w.key("unreferenced_row_chunk_files"); w.int(store.unreferencedRowChunkFiles)
        w.key("logs")
        w.beginArray()
        for log in store.logs { self.log(log, &w) }
        w.endArray()
        w.key("recovery")
        if let plan = store.recovery { recovery(plan, &w) } else { w.null() }
        w.key("findings"); findings(store.findings, &w)
        w.endObject()
    }

    private static func log(_ log: LogFileCheck, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("file"); w.string(log.file)
        w.key("bytes"); w.uint64(log.bytes)
        if let header = log.header {
            w.key("generation"); w.uint64(header.checkpointSeq)
            w.key("first_lsn"); w.uint64(header.firstLSN)
        } else {
            w.key("header_error"); w.string(log.headerError ?? "invalid")
        }
        let role: String
        switch log.role {
        case .replayed(let applied, let skipped):
            role = "replayed"
            w.key("applied_frames"); w.int(applied)
            w.key("skipped_frames"); w.int(skipped)
        case .coveredBySnapshot: role = "covered_by_snapshot"
        case .notReplayed: role = "not_replayed"
        case .unreadable: role = "unreadable"
        }
        w.key("role"); w.string(role)
        if let r = log.result { w.walResult(r) }
        w.endObject()
    }

    private static func recovery(_ plan: RecoveryPlanReport, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("snapshot")
        if let file = plan.snapshotFile { w.string(file) } else { w.null() }
        w.key("snapshot_seq"); w.uint64(plan.snapshotSeq)
        w.key("snapshot_lsn"); w.uint64(plan.snapshotLSN)
        w.key("skipped_snapshots"); strings(plan.skippedSnapshots, &w)
        w.key("replay_from_lsn"); w.uint64(plan.snapshotLSN + 1)
        w.key("replayed_frames"); w.int(plan.replayedFrames)
        w.key("replayed_transactions"); w.int(plan.replayedTransactions)
        w.key("skipped_frames"); w.int(plan.skippedFrames)
        w.key("last_lsn"); w.uint64(plan.lastLSN)
        w.key("ignored_tails")
        w.beginArray()
        for tail in plan.ignoredTails {
            w.beginObject()
            w.key("file"); w.string(tail.file)
            w.key("offset"); w.uint64(tail.offset)
            w.key("bytes"); w.uint64(tail.bytes)
            w.key("reason"); w.string(tail.reason.rawValue)
            w.endObject()
        }
        w.endArray()
        w.key("records"); w.int(plan.records)
        w.key("pending"); w.int(plan.pending)
        w.key("then")
        w.beginObject()
        switch plan.continuation {
        case .resume(let file, let offset):
            w.key("action"); w.string("resume")
            w.key("file"); w.string(file)
            w.key("offset"); w.uint64(offset)
        case .freshAfterDamage(let generation, let firstLSN), .create(let generation, let firstLSN):
            if case .create = plan.continuation { w.key("action"); w.string("create_log") } else {
                w.key("action"); w.string("fresh_log_after_damage")
            }
            w.key("generation"); w.uint64(generation)
            w.key("first_lsn"); w.uint64(firstLSN)
        }
        w.endObject()
        w.endObject()
    }

    private static func findings(_ findings: [CheckFinding], _ w: inout JSONWriter) {
        w.beginArray()
        for f in findings {
            w.beginObject()
            w.key("severity"); w.string(f.severity.rawValue)
            w.key("file")
            if let file = f.file { w.string(file) } else { w.null() }
            w.key("message"); w.string(f.message)
            w.endObject()
        }
        w.endArray()
    }

    private static func strings(_ values: [String], _ w: inout JSONWriter) {
        w.beginArray()
        for v in values { w.string(v) }
        w.endArray()
    }
}

extension JSONWriter {
    /// The members saying what replay made of one log file (shared by check's and dump-wal's JSON).
    mutating func walResult(_ r: WALRecoveryResult) {
        key("committed_frames"); int(r.committedFrames)
        key("committed_transactions"); int(r.committedTransactions)
        key("dropped_uncommitted_frames"); int(r.droppedUncommittedFrames)
        key("last_lsn"); uint64(r.lastLSN)
        key("valid_end_offset"); uint64(r.validEndOffset)
        key("stop_reason"); string(r.stopReason.rawValue)
        key("stop_offset"); uint64(r.stopOffset)
        key("torn"); bool(r.stopReason.isTorn)
        key("corruption"); bool(r.isCorruption)
        key("later_frame_offset")
        if let later = r.laterFrameOffset { uint64(later) } else { null() }
    }
}

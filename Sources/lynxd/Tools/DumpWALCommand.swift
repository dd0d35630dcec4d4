import ArgumentParser
import LynxEngine
import LynxJSON
import LynxStorage

/// `lynxd dump-wal --data-dir D [--collection NAME] [--from-lsn N] [--file PATH] [--json]`: prints each frame of a
/// store's log files.
struct DumpWALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lynxd dump-wal",
        abstract: "Print every frame of a collection's write-ahead log (read only).",
        discussion: """
            Per log file (oldest generation first): its header, then each frame: offset, LSN, operation, id (or \
            field path), commit marker and whether it is valid. Frames after the point where replay stops are \
            printed too, marked not replayed, with the reason. Never writes and takes no lock.
            Exit status: 0 dumped (a torn tail is not damage); 1 a log is damaged (a bad header, or frames of its \
            generation after an invalid one); 2 usage.
            """)

    @Option(name: .customLong("data-dir"), help: "The data directory (env LYNX_DATA_DIR; default \(LynxdSettings.defaults.engine.dataDir)).")
    var dataDir: String?
    @Option(help: "The collection whose log to print.")
    var collection = "default"
    @Option(name: .customLong("from-lsn"), help: "Print only frames whose LSN is at least this.")
    var fromLSN: UInt64 = 0
    @Option(help: "Print this one log file instead (for example a damaged log kept aside as wal-0.log.broken-1).")
    var file: String?
    @Flag(help: "Print one JSON object per line: a \"file\" line per log file, a \"frame\" line per frame, an \"end\" line per file.")
    var json = false

    func run() throws {
        let files: [LogDump.File]
        if let file {
            guard SystemFileIO().fileExists(file), !SystemFileIO().isDirectory(file) else { toolUsageFailure("dump-wal", "no such file: \(file)") }
            files = [try LogDump.file(at: file)]
        } else {
            let dir = dataDir ?? currentEnvironment()["LYNX_DATA_DIR"] ?? LynxdSettings.defaults.engine.dataDir
            guard SystemFileIO().isDirectory(dir) else { toolUsageFailure("dump-wal", "\(dir) is not a directory") }
            guard let store = DataDirectoryCheck.storePath(dataDir: dir, collection: collection) else {
                toolUsageFailure("dump-wal", "\(dir) has no collection '\(collection)'")
            }
            files = try LogDump.files(store: store)
        }
        var damaged = false
        for file in files {
            printFile(file)
            guard file.header != nil else {
                damaged = damaged || file.bytes >= UInt64(WALFormat.headerSize)
                continue
            }
            let result = try LogDump.frames(of: file.path) { frame in
                if frame.lsn >= fromLSN { printFrame(frame, in: file) }
            }
            printEnd(result, in: file)
            damaged = damaged || result.isCorruption
        }
        throw ExitCode(damaged ? ToolExit.damage : ToolExit.healthy)
    }

    // MARK: - Text and JSON lines

    private func printFile(_ file: LogDump.File) {
        if json {
            jsonLine("file", file) { w in
                w.key("bytes"); w.uint64(file.bytes)
                if let h = file.header {
                    w.key("generation"); w.uint64(h.checkpointSeq)
                    w.key("first_lsn"); w.uint64(h.firstLSN)
                    w.key("salt1"); w.uint64(UInt64(h.salt1))
                    w.key("salt2"); w.uint64(UInt64(h.salt2))
                } else {
                    w.key("header_error"); w.string(file.headerError ?? "invalid")
            }
            }
        } else if let h = file.header {
            printLine("log \(file.path): generation \(h.checkpointSeq), first LSN \(h.firstLSN), salts \(hex(h.salt1)) \(hex(h.salt2)), \(file.bytes) bytes")
        } else {
            printLine("log \(file.path): \(file.bytes) bytes, header INVALID (\(file.headerError ?? "invalid")): no frame can be verified")
        }
    }

    private func printFrame(_ frame: WALFrameReport, in file: LogDump.File) {
        let (op, target) = describe(frame)
        let replay: String
        switch frame.replay {
        case .committed: replay = "committed"
        case .uncommitted: replay = "uncommitted"
        case .stop: replay = "stop"
        case .afterStop: replay = "after_stop"
        }
        if json {
            jsonLine("frame", file) { w in
                w.key("offset"); w.uint64(frame.offset)
                w.key("size"); w.uint64(frame.size)
                w.key("lsn"); w.uint64(frame.lsn)
                w.key("op"); w.string(op)
                switch frame.operation {
                case .upsert(let id, let vector, let metadata)?:
                    w.key("id"); w.uint64(id)
                    w.key("dimension"); w.int(vector.count)
                    w.key("metadata_bytes"); w.int(metadata.count)
                case .delete(let id)?:
                    w.key("id"); w.uint64(id)
                case .createMetadataIndex(let path, let type)?:
                    w.key("field"); w.string(path.joined(separator: "."))
                    w.key("type"); w.string(LogDump.metadataIndexTypeName(code: type) ?? "code \(type)")
                case .dropMetadataIndex(let path)?:
                    w.key("field"); w.string(path.joined(separator: "."))
                case nil:
                    break
            }
            w.key("commit"); w.bool(frame.isCommit)
            w.key("replay"); w.string(replay)
            w.key("valid"); w.bool(frame.problem == nil)
            w.key("problem")
            if let problem = frame.problem { w.string(problem.rawValue) } else { w.null() }
            w.key("chain_checked"); w.bool(frame.chainChecked)
            }
            return
        }
        let status: String
        switch frame.replay {
        case .committed: status = "ok"
        case .uncommitted: status = "ok, uncommitted (replay drops it)"
        case .stop(let reason):
            status = "INVALID: \(frame.problem?.rawValue ?? reason.rawValue) (replay stops here: \(reason.rawValue))"
        case .afterStop:
            status = "not replayed (after the stop): " + (frame.problem.map { "invalid: \($0.rawValue)" }
                ?? (frame.chainChecked ? "intact" : "header intact, checksum chain unknown"))
        }
        let lsn = "LSN \(frame.lsn)"
        printLine("  @\(String(frame.offset).padding(10)) \(lsn.padding(12))  \(op.padding(10))  \(target.padding(28))  \((frame.isCommit ? "commit" : "-").padding(6))  \(status)")
    }

    private func printEnd(_ r: WALRecoveryResult, in file: LogDump.File) {
        if json {
            jsonLine("end", file) { w in w.walResult(r) }
            return
        }
        var line = "  end: \(r.committedFrames) committed frame(s) in \(r.committedTransactions) transaction(s), last LSN \(r.lastLSN), valid to offset \(r.validEndOffset)"
        if r.stopReason == .endOfLog {
            line += "; clean end"
        } else {
            line += "; replay stops at offset \(r.stopOffset): \(r.stopReason.rawValue)"
            line += r.isCorruption ? " (DAMAGE: committed frames may lie beyond it)" : (r.stopReason.isTorn ? " (torn tail)" : "")
        }
        printLine(line)
    }

    /// One JSON object on its own line: `record` (what the line is), `file`, then what `members` writes.
    private func jsonLine(_ record: String, _ file: LogDump.File, _ members: (inout JSONWriter) -> Void) {
        var w = JSONWriter()
        w.beginObject()
        w.key("record"); w.string(record)
        w.key("file"); w.string(file.path)
        members(&w)
        w.endObject()
        printLine(String(decoding: w.bytes, as: UTF8.self))
    }

    private func describe(_ frame: WALFrameReport) -> (op: String, target: String) {
        switch frame.operation {
        case .upsert(let id, let vector, let metadata)?:
            return ("upsert", "id \(id) (\(vector.count)-d, \(metadata.count) B metadata)")
        case .delete(let id)?:
            return ("delete", "id \(id)")
        case .createMetadataIndex(let path, let type)?:
            return ("index+", "\(path.joined(separator: ".")) (\(LogDump.metadataIndexTypeName(code: type) ?? "code \(type)"))")
        case .dropMetadataIndex(let path)?:
            return ("index-", path.joined(separator: "."))
        case nil:
            let names: [UInt8: String] = [WALFormat.opUpsert: "upsert", WALFormat.opDelete: "delete",
                                          WALFormat.opCreateMetadataIndex: "index+", WALFormat.opDropMetadataIndex: "index-"]
            return (names[frame.operationCode] ?? "op \(frame.operationCode)", "(payload unreadable)")
        }
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}

private extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

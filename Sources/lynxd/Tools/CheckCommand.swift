import ArgumentParser
import LynxEngine
import LynxStorage

/// `lynxd check --data-dir D [--json]`: verifies a data directory offline and says what recovery would do.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lynxd check",
        abstract: "Verify a data directory (read only) and print what recovery would do.",
        discussion: """
            Verifies the manifest, snapshots (checksums, and the one recovery loads decoded with every row chunk \
            file it refers to), the row chunk files and the logs (every frame's checksums, salts and LSN, the \
            valid prefix, torn tails, commit markers) of the default collection and of every collection under \
            collections/, and replays the log into memory as recovery would (so it needs the memory lynxd needs). \
            Never writes and takes no lock: it may run beside a live lynxd (it then warns that the log may be \
            growing), but a copy or a stopped lynxd gives a definite answer.
            Exit status: 0 healthy (a torn tail, which recovery cuts off without losing a committed write, is \
            healthy and reported as a warning); 1 damage found; 2 usage (bad flags, not a data directory).
            """)

    @Option(name: .customLong("data-dir"), help: "The data directory to check (env LYNX_DATA_DIR; default \(LynxdSettings.defaults.engine.dataDir)).")
    var dataDir: String?
    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func run() throws {
        let dir = dataDir ?? currentEnvironment()["LYNX_DATA_DIR"] ?? LynxdSettings.defaults.engine.dataDir
        let report: DataDirectoryCheckReport
        do {
            report = try DataDirectoryCheck.run(dataDir: dir)
        } catch let error as DataDirectoryCheck.NotADataDirectory {
            toolUsageFailure("check", "\(error)")
        }
        if json {
            printLine(CheckReportJSON.render(report))
        } else {
            printText(report)
        }
        throw ExitCode(report.isHealthy ? ToolExit.healthy : ToolExit.damage)
    }

    private func printText(_ report: DataDirectoryCheckReport) {
        printLine("lynxd check \(report.path) (read only)")
        for finding in report.findings { printLine(describe(finding)) }
        for store in report.stores {
            printLine("")
            printLine("collection \(store.collection)" + (store.folder.isEmpty ? "" : " (\(store.folder))"))
            if let dimension = store.dimension, let metric = store.metric, let index = store.index {
                printLine("  manifest: dimension \(dimension), metric \(metric), index \(index)")
            }
            for snapshot in store.snapshots { printLine("  " + describe(snapshot)) }
            if store.rowChunkFiles > 0 {
                printLine("  row chunk files: \(store.rowChunkFiles) in rows/, \(store.unreferencedRowChunkFiles) unreferenced")
            }
            for log in store.logs { printLine("  " + describe(log)) }
            if let plan = store.recovery {
                printLine("  recovery: " + describe(plan))
            } else {
                printLine("  recovery: would not complete (see the damage below)")
            }
            for finding in store.findings { printLine("  " + describe(finding)) }
        }
        let all = report.findings + report.stores.flatMap(\.findings)
        let damage = all.filter { $0.severity == .damage }.count
        let warnings = all.filter { $0.severity == .warning }.count
        printLine("")
        printLine(damage == 0 ? "healthy (\(warnings) warning(s))" : "DAMAGED: \(damage) problem(s), \(warnings) warning(s)")
    }

    private func describe(_ finding: CheckFinding) -> String {
        "\(finding.severity.rawValue): " + (finding.file.map { "\($0): " } ?? "") + finding.message
    }

    private func describe(_ snapshot: SnapshotCheck) -> String {
        var line = "snapshot \(snapshot.file): seq \(snapshot.seq)"
        if let lsn = snapshot.lastLSN { line += ", LSN \(lsn)" }
        switch snapshot.status {
        case .valid:
            line += snapshot.checksumsOnly ? ", checksums valid (older; recovery does not read it)"
                : ", valid, decodes, \(snapshot.rowChunks) row chunk file(s) verified"
        case .damaged(let reason):
            line += ", DAMAGED: \(reason)"
        }
        if snapshot.chosen { line += " [recovery loads it]" }
        return line
    }

    private func describe(_ log: LogFileCheck) -> String {
        var line = "log \(log.file): \(log.bytes) bytes"
        guard let header = log.header, let result = log.result else {
            return line + ", header DAMAGED: \(log.headerError ?? "invalid")"
        }
        line += ", generation \(header.checkpointSeq), first LSN \(header.firstLSN): \(result.committedFrames) committed frame(s) "
            + "in \(result.committedTransactions) transaction(s), last LSN \(result.lastLSN), valid to offset \(result.validEndOffset)"
        if result.stopReason != .endOfLog {
            line += ", stops at offset \(result.stopOffset): \(result.stopReason.rawValue)"
            if result.isCorruption && log.role != .coveredBySnapshot { line += " (DAMAGE)" }
        }
        switch log.role {
        case .replayed(let applied, let skipped):
            line += " [replayed: \(applied) frame(s) applied" + (skipped > 0 ? ", \(skipped) already in the snapshot]" : "]")
        case .coveredBySnapshot: line += " [the snapshot holds it: not read by recovery]"
        case .notReplayed: line += " [not replayed]"
        case .unreadable: break
        }
        return line
    }

    private func describe(_ plan: RecoveryPlanReport) -> String {
        var line = plan.snapshotFile.map { "loads \($0) (seq \(plan.snapshotSeq), LSN \(plan.snapshotLSN))" } ?? "starts from the empty state (LSN 0)"
        if !plan.skippedSnapshots.isEmpty { line += " passing over \(plan.skippedSnapshots.joined(separator: ", "))" }
        line += plan.replayedFrames == 0 ? ", replays nothing"
            : ", replays \(plan.replayedFrames) frame(s) in \(plan.replayedTransactions) transaction(s) from LSN \(plan.snapshotLSN + 1) to \(plan.lastLSN)"
        for tail in plan.ignoredTails {
            line += ", ignores \(tail.file) from offset \(tail.offset) on (\(tail.reason.rawValue))"
        }
        switch plan.continuation {
        case .resume(let file, let offset): line += ", appends at offset \(offset) of \(file)"
        case .freshAfterDamage(let generation, let firstLSN):
            line += ", writes snapshot \(generation) of what it recovered, moves the log files aside and starts a new log at LSN \(firstLSN)"
        case .create(let generation, let firstLSN): line += ", starts log generation \(generation) at LSN \(firstLSN)"
        }
        return line + "; \(plan.records) record(s)" + (plan.pending > 0 ? " (\(plan.pending) to link into the index)" : "")
    }
}

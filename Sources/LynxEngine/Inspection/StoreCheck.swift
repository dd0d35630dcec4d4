import Logging
import LynxIndex
import LynxStorage

/// Checks one store (a collection's folder) as recovery would read it, and changes nothing: every file access goes
/// through `ReadOnlyFileIO`. The snapshot is chosen by the data directory's own `loadNewestSnapshot` (decoded with
/// every row chunk file, through `RowChunkAudit`), and the log is replayed by recovery's own `LogReplay` into an
/// in-memory state, so the plan reported is recovery's, and the check needs the memory recovery needs.
struct StoreCheck {
    let root: String
    /// Relative to `root`: "" for the default collection, `collections/<name>` for the others.
    let folder: String
    let collection: String
    let io: FileIO = ReadOnlyFileIO()

    var path: String { folder.isEmpty ? root : joinPath(root, folder) }

    func run() -> StoreCheckReport {
        var report = StoreCheckReport(collection: collection, folder: folder)
        do {
            try check(into: &report)
        } catch {
            report.findings.append(CheckFinding(severity: .damage, file: folder.isEmpty ? nil : folder, message: "the check could not finish: \(describe(error))"))
        }
        return report
    }

    // MARK: - Steps

    private func check(into report: inout StoreCheckReport) throws {
        let manifest = checkManifest(into: &report)
        // The log and row chunk files are found without the manifest; the placeholder is used for nothing else.
        let directory = DataDirectory.inspecting(
            path: path, manifest: manifest ?? .init(storeID: nil, dimension: 0, metric: .l2, index: .flat), io: io)
        let base = try checkSnapshots(manifest, directory, into: &report)
        try checkLeftovers(into: &report)
        try checkLogs(manifest, directory, base: base, into: &report)
    }

    private func checkManifest(into report: inout StoreCheckReport) -> DataDirectory.ResolvedManifest? {
        let manifestFile = relative(joinPath(path, Manifest.fileName))
        do {
            guard let stored = try Manifest.load(dir: path, io: io) else {
                report.findings.append(damage(manifestFile, "missing: the store's dimension, metric and index are unknown "
                                              + "(lynxd would make a new manifest from its flags, which the snapshot may not match)"))
                return nil
            }
            report.dimension = stored.dimension
            report.metric = stored.metric
            report.index = stored.indexType
            guard let resolved = DataDirectory.ResolvedManifest(stored) else {
                report.findings.append(damage(manifestFile, "names a metric '\(stored.metric)' or index '\(stored.indexType)' this build does not know"))
                return nil
            }
            return resolved
        } catch {
            report.findings.append(damage(manifestFile, "\(describe(error)); lynxd refuses to open the store"))
            return nil
        }
    }

    /// What recovery would start from: the snapshot's sequence, LSN, file and decoded state (nil: cannot be known).
    private struct Base {
        var seq: UInt64 = 0
        var lsn: UInt64 = 0
        var file: String?
        var state: StoreState?
        var skipped: [String] = []
    }

    private func checkSnapshots(_ manifest: DataDirectory.ResolvedManifest?, _ directory: DataDirectory,
                                into report: inout StoreCheckReport) throws -> Base? {
        let listed = try SnapshotFile.list(dir: path, io: io)
        var base: Base? = manifest == nil ? nil : Base()
        var chunks: [UInt64: (count: Int, failures: [(file: String, reason: String)])] = [:]
        var undecodable: (seq: UInt64, reason: String)?
        var chosenTokens: Set<UInt64> = []
        if let manifest {
            var config = EngineConfig()
            config.dataDir = path
            config.indexThreads = 1
            let audit = RowChunkAudit(directory.rowChunks)
            var decoding: UInt64 = 0
            do {
                if let (snapshot, state) = try directory.loadNewestSnapshot(logger: Self.quiet, decode: { snapshot in
                    decoding = snapshot.seq
                    audit.reset()
                    let state = try SnapshotCodec.decode(
                        snapshot.sections, dimension: manifest.dimension, metric: manifest.metric, spec: manifest.index,
                        config: config, stagesWrites: Engine.linksInBackground(manifest.indexKind, config), rowSource: audit)
                    chunks[snapshot.seq] = (audit.tokens.count, audit.failures)
                    if !audit.failures.isEmpty {
                        throw StorageError.corrupt("\(audit.failures.count) row chunk file(s) it refers to are missing or invalid")
                    }
                    return state
                }) {
                    chosenTokens = audit.tokens
                    base = Base(seq: snapshot.seq, lsn: snapshot.lastLSN, file: nil, state: state)
                } else {
                    base?.state = StoreState(
                        index: IndexFactory.make(manifest.index, dimension: manifest.dimension, metric: manifest.metric, config: config),
                        stagesWrites: Engine.linksInBackground(manifest.indexKind, config))
                }
            } catch {
                // Not a damaged file recovery could pass over: a snapshot that verifies but does not decode stops recovery.
                undecodable = (decoding, describe(error))
                base = nil
            }
        }
        let damaged = Dictionary(directory.damagedSnapshots.map { ($0.path, describe($0.reason)) }, uniquingKeysWith: { a, _ in a })
        for (seq, file) in listed {
            let name = relative(file)
            var check = SnapshotCheck(file: name, seq: seq, lastLSN: nil, status: .valid, chosen: false, checksumsOnly: false,
                                      rowChunks: chunks[seq]?.count ?? 0, damagedRowChunks: chunks[seq]?.failures.map(\.file) ?? [])
            if let reason = damaged[file] {
                check.status = .damaged(reason)
                for failure in chunks[seq]?.failures ?? [] {
                    report.findings.append(damage(relative(joinPath(path, failure.file)), "\(failure.reason) (referred to by \(name))"))
                }
            } else if let undecodable, undecodable.seq == seq {
                check.status = .damaged(undecodable.reason)
            } else if let base, base.state != nil, seq == base.seq, chunks[seq] != nil {
                check.chosen = true
            } else {
                check.checksumsOnly = true
                do {
                    check.lastLSN = try SnapshotFile.read(path: file, io: io).lastLSN
                } catch {
                    check.status = .damaged(describe(error))
                }
            }
            if case .damaged(let reason) = check.status {
                let consequence: String
                if undecodable?.seq == seq {
                    consequence = "it verifies but does not decode, so recovery fails"
                } else if check.checksumsOnly {
                    consequence = "recovery does not need it (an older snapshot)"
                } else {
                    consequence = "recovery passes over it to an older snapshot, or to the empty state"
                }
                report.findings.append(damage(name, "\(reason); \(consequence)"))
            } else if check.lastLSN == nil, let base, check.chosen {
                check.lastLSN = base.lsn
            }
            report.snapshots.append(check)
        }
        if var start = base {
            start.file = report.snapshots.first(where: \.chosen)?.file
            start.skipped = report.snapshots.filter { $0.seq > start.seq && $0.status != .valid && !$0.checksumsOnly }.map(\.file)
            base = start
        }
        try countRowChunkFiles(referenced: chosenTokens, knowsReferences: base != nil, into: &report)
        return base
    }

    private func countRowChunkFiles(referenced: Set<UInt64>, knowsReferences: Bool, into report: inout StoreCheckReport) throws {
        let rows = joinPath(path, RowChunkFile.directoryName)
        guard io.isDirectory(rows) else { return }
        let tokens = try io.listDirectory(rows).compactMap(RowChunkFile.token(fromFileName:))
        report.rowChunkFiles = tokens.count
        guard knowsReferences else { return }
        report.unreferencedRowChunkFiles = tokens.filter { !referenced.contains($0) }.count
        if report.unreferencedRowChunkFiles > 0 {
            report.findings.append(CheckFinding(
                severity: .note, file: relative(rows),
                message: "\(report.unreferencedRowChunkFiles) row chunk file(s) no usable snapshot refers to (left by a failed or "
                    + "superseded checkpoint; the next checkpoint removes them)"))
        }
    }

    /// Files a start or a checkpoint removes, and files an earlier recovery kept aside.
    private func checkLeftovers(into report: inout StoreCheckReport) throws {
        for name in try io.listDirectory(path).sorted() {
            if name.hasSuffix(".tmp") {
                report.findings.append(CheckFinding(severity: .note, file: relative(joinPath(path, name)),
                                                    message: "an unfinished atomic write (never read; removed by the next checkpoint)"))
            } else if name.contains(".broken-") {
                report.findings.append(CheckFinding(severity: .warning, file: relative(joinPath(path, name)),
                                                    message: "kept aside by an earlier recovery that found it damaged (never read again)"))
            }
        }
    }

    private func checkLogs(_ manifest: DataDirectory.ResolvedManifest?, _ directory: DataDirectory, base: Base?,
                           into report: inout StoreCheckReport) throws {
        let (valid, damagedHeaders) = try directory.logFiles()
        let plan = LogReplay(logFiles: valid, damagedHeaders: damagedHeaders, snapshotSeq: base?.seq ?? 0, snapshotLSN: base?.lsn ?? 0)
        var outcome: LogReplay.Outcome?
        if let base, var state = base.state, let manifest {
            switch plan.refusal {
            case .damagedHeader?:
                break  // reported with the file below
            case .gapAfterSnapshot(let file, let firstLSN, let seq, let lsn)?:
                report.findings.append(damage(relative(file), "the log starts at LSN \(firstLSN), but "
                    + (seq == 0 ? "there is no usable snapshot (the empty state ends at LSN 0)" : "the snapshot recovery would load ends at LSN \(lsn)")
                    + ": the writes in between are missing, so recovery refuses to start"))
            case nil:
                var failedAt: UInt64?
                do {
                    outcome = try plan.replay(io: io, apply: { lsn, ops in
                        failedAt = lsn
                        try state.applyReplayed(ops, dimension: manifest.dimension)
                        failedAt = nil
                    })
                } catch where failedAt != nil {
                    report.findings.append(damage(nil, "recovery fails applying the transaction committed at LSN \(failedAt!): \(describe(error))"))
                }
                if let outcome {
                    report.recovery = recoveryPlan(of: outcome, base: base, state: state)
                }
            }
        }
        for file in (valid.map(\.path) + damagedHeaders.map(\.path)).sorted() {
            report.logs.append(try checkLog(file, plan: plan, outcome: outcome, into: &report))
        }
        for name in LogManager.fileNames where io.fileExists(joinPath(path, name))
            && !report.logs.contains(where: { $0.file == relative(joinPath(path, name)) }) {
            report.findings.append(CheckFinding(severity: .note, file: relative(joinPath(path, name)),
                                                message: "shorter than a log header: a log creation that never finished (ignored)"))
        }
    }

    private func checkLog(_ file: String, plan: LogReplay, outcome: LogReplay.Outcome?,
                          into report: inout StoreCheckReport) throws -> LogFileCheck {
        let name = relative(file)
        let replayed = outcome?.replayed.first { $0.file.path == file }
        let result = try replayed?.result ?? WALReader(path: file, io: io).recover { _, _ in }
        var check = LogFileCheck(file: name, bytes: result.fileSize, header: result.header, headerError: result.headerError,
                                 role: .notReplayed, result: result)
        guard let header = result.header else {
            check.role = .unreadable
            check.result = nil
            report.findings.append(damage(name, "its header does not verify (\(result.headerError ?? "invalid")): its frames cannot be "
                                          + "checked and may hold acknowledged writes, so recovery refuses to start"))
            return check
        }
        let generation = "generation \(header.checkpointSeq)"
        if let replayed {
            check.role = .replayed(appliedFrames: replayed.appliedFrames, skippedFrames: replayed.skippedFrames)
        } else if header.checkpointSeq < plan.snapshotSeq {
            check.role = .coveredBySnapshot
        } else if let gap = outcome?.gap, gap.file.path == file {
            report.findings.append(damage(name, "\(generation) starts at LSN \(header.firstLSN), expected \(gap.expectedLSN): the writes "
                                          + "in between are missing; recovery replays nothing from here on"))
        }
        let stop = "at offset \(result.stopOffset) (\(result.stopReason.rawValue), LSN \(result.lastLSN &+ 1 &+ UInt64(result.droppedUncommittedFrames)))"
        switch (check.role, result.isCorruption) {
        case (.coveredBySnapshot, true):
            report.findings.append(CheckFinding(severity: .warning, file: name,
                message: "\(generation), which the snapshot already holds, fails its checks \(stop); recovery does not read it"))
        case (_, true):
            var message = "the log is damaged \(stop)"
            if let later = result.laterFrameOffset { message += "; frames of this generation follow (offset \(later)), and replay cannot reach them" }
            message += "; recovery keeps the \(result.committedFrames) frame(s) before it, then moves the log files aside"
            report.findings.append(damage(name, message))
        case (.coveredBySnapshot, false), (.notReplayed, false):
            break
        case (_, false):
            switch result.stopReason {
            case .endOfLog:
                break
            case .tornFrame, .uncommittedTail, .checksumMismatch, .frameHeaderChecksumMismatch:
                report.findings.append(CheckFinding(severity: .warning, file: name,
                    message: "torn tail \(stop): the last write was cut short (\(result.droppedUncommittedFrames) uncommitted frame(s) "
                        + "before it); recovery ignores it and cuts it off, having lost no committed transaction"))
            default:
                report.findings.append(CheckFinding(severity: .note, file: name,
                    message: "stale bytes of an older generation follow the last commit frame \(stop) (normal after a log file is reused)"))
            }
        }
        return check
    }

    private func recoveryPlan(of outcome: LogReplay.Outcome, base: Base, state: StoreState) -> RecoveryPlanReport {
        let continuation: RecoveryPlanReport.Continuation
        switch outcome.continuation {
        case .resume(let file, let offset): continuation = .resume(file: relative(file), offset: offset)
        case .freshAfterDamage(let generation, let firstLSN): continuation = .freshAfterDamage(generation: generation, firstLSN: firstLSN)
        case .create(let generation, let firstLSN): continuation = .create(generation: generation, firstLSN: firstLSN)
        }
        return RecoveryPlanReport(
            snapshotFile: base.file, snapshotSeq: base.seq, snapshotLSN: base.lsn, skippedSnapshots: base.skipped,
            replayedFrames: outcome.appliedFrames, replayedTransactions: outcome.replayed.reduce(0) { $0 + $1.appliedTransactions },
            lastLSN: outcome.appliedLSN, skippedFrames: outcome.replayed.reduce(0) { $0 + $1.skippedFrames },
            ignoredTails: outcome.replayed.filter { $0.result.stopReason != .endOfLog }.map {
                IgnoredTail(file: relative($0.file.path), offset: $0.result.validEndOffset, bytes: $0.result.bytesAfterValidEnd,
                            reason: $0.result.stopReason)
            },
            records: state.count, pending: state.pendingCount, continuation: continuation)
    }

    // MARK: - Wording

    private static let quiet = Logger(label: "lynx.check", factory: { _ in SwiftLogNoOpLogHandler() })

    private func damage(_ file: String?, _ message: String) -> CheckFinding {
        CheckFinding(severity: .damage, file: file, message: message)
    }

    func relative(_ absolute: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return absolute.hasPrefix(prefix) ? String(absolute.dropFirst(prefix.count)) : absolute
    }

    /// An error in an operator's words: a damaged file's reason without the path the finding names already.
    private func describe(_ error: Error) -> String {
        guard let storage = error as? StorageError else { return "\(error)" }
        switch storage {
        case .corrupt(let why):
            return why.firstRange(of: "\(path)/").flatMap { range in
                why[range.upperBound...].firstRange(of: ": ").map { String(why[$0.upperBound...]) }
            } ?? why
        case .notFound: return "missing (\(storage))"
        default: return "\(storage)"
        }
    }
}

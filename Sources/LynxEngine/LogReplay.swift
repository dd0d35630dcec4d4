import LynxStorage

/// Step 2 of recovery (docs/STORAGE_FORMATS.md, "Recovery"): which log generations are replayed on top of a snapshot, how far,
/// and what becomes of the log afterwards. `Engine.recover` runs it applying each transaction to the store;
/// the inspection (`DataDirectoryCheck`) runs the same code through a read-only file seam into a scratch state,
/// so what `lynxd check` reports is what recovery does. Decides and reads; it never writes.
struct LogReplay {
    /// Why recovery refuses to start before replaying anything.
    enum Refusal: Equatable, Sendable {
        /// A log file's full-size header does not verify: its frames cannot be checked, and it may hold acknowledged writes.
        case damagedHeader(path: String, size: UInt64)
        /// The oldest generation to replay starts after the snapshot's LSN + 1: the writes in between are missing.
        case gapAfterSnapshot(path: String, firstLSN: UInt64, snapshotSeq: UInt64, snapshotLSN: UInt64)
    }

    /// What happens to the log once replay is done (with the log enabled).
    enum Continuation: Equatable, Sendable {
        /// Appends go on in the newest generation's file after its last valid commit frame (a torn tail is cut off).
        case resume(path: String, offset: UInt64)
        /// Damage: the recovered state is written as snapshot `generation`, the log files are kept aside
        /// (`.broken-K`), and a fresh log starts at `firstLSN` (after the highest LSN any file holds).
        case freshAfterDamage(generation: UInt64, firstLSN: UInt64)
        /// No log file to continue: a new one is made for `generation`.
        case create(generation: UInt64, firstLSN: UInt64)
    }

    /// One generation's file as replay read it.
    struct FileReplay {
        var file: LogFileInfo
        var result: WALRecoveryResult
        /// Committed transactions and frames applied (those above the LSN already applied).
        var appliedTransactions = 0
        var appliedFrames = 0
        /// Committed frames skipped: the snapshot (or an older generation) already holds them.
        var skippedFrames = 0
    }

    struct Outcome {
        var replayed: [FileReplay] = []
        /// A generation not replayed (nor any after it) because it starts after a gap, and the LSN it should have started at.
        var gap: (file: LogFileInfo, expectedLSN: UInt64)?
        /// The last LSN the recovered state holds.
        var appliedLSN: UInt64
        var appliedFrames = 0
        /// Replay stopped at damage (a corrupt frame with frames of its generation after it, or a gap).
        var damaged = false
        var continuation = Continuation.create(generation: 0, firstLSN: 1)
    }

    let snapshotSeq: UInt64
    let snapshotLSN: UInt64
    /// The generations the snapshot lacks (generation ≥ its sequence), oldest first.
    let files: [LogFileInfo]
    /// Set when recovery must not start; `replay` is then not to be called.
    let refusal: Refusal?

    init(logFiles: [LogFileInfo], damagedHeaders: [(path: String, size: UInt64)], snapshotSeq: UInt64, snapshotLSN: UInt64) {
        self.snapshotSeq = snapshotSeq
        self.snapshotLSN = snapshotLSN
        files = logFiles.filter { $0.generation >= snapshotSeq }.sorted { $0.generation < $1.generation }
        if let damaged = damagedHeaders.first {
            refusal = .damagedHeader(path: damaged.path, size: damaged.size)
        } else if let first = files.first, first.firstLSN > snapshotLSN + 1 {
            refusal = .gapAfterSnapshot(path: first.path, firstLSN: first.firstLSN, snapshotSeq: snapshotSeq, snapshotLSN: snapshotLSN)
        } else {
            refusal = nil
        }
    }

    /// The sequence of a snapshot written after this replay (with `--wal off`, or after damage).
    var nextGeneration: UInt64 { max(snapshotSeq, files.last?.generation ?? 0) + 1 }

    /// Reads the generations in order, calling `apply(commitLSN, ops)` for each committed transaction above the
    /// LSN already applied, up to the last valid commit frame; stops before a gap, and after a file whose damage
    /// has later files behind it. `onRead` sees each file's result as soon as it is read.
    func replay(io: FileIO, apply: (UInt64, [WALOperation]) throws -> Void,
                onRead: (FileReplay) -> Void = { _ in }) throws -> Outcome {
        precondition(refusal == nil, "replay of a log recovery refuses")
        var outcome = Outcome(appliedLSN: snapshotLSN)
        for (i, file) in files.enumerated() {
            if file.firstLSN > outcome.appliedLSN + 1 {
                outcome.gap = (file, outcome.appliedLSN + 1)
                outcome.damaged = true
                break
            }
            var transactions = 0, frames = 0, skipped = 0
            let result = try WALReader(path: file.path, io: io).recover { lsn, ops in
                guard lsn > outcome.appliedLSN else {
                    skipped += ops.count
                    return
                }
                try apply(lsn, ops)
                outcome.appliedLSN = lsn
                transactions += 1
                frames += ops.count
            }
            let read = FileReplay(file: file, result: result, appliedTransactions: transactions, appliedFrames: frames,
                                  skippedFrames: skipped)
            outcome.appliedFrames += read.appliedFrames
            outcome.replayed.append(read)
            onRead(read)
            if read.result.isCorruption { outcome.damaged = true }
            if i < files.count - 1 && read.result.isCorruption { break }
        }
        outcome.continuation = try continuation(of: outcome, io: io)
        return outcome
    }

    private func continuation(of outcome: Outcome, io: FileIO) throws -> Continuation {
        if outcome.damaged {
            // LSNs are never reused: the fresh log starts after the highest LSN any file holds.
            var highest = outcome.appliedLSN
            for file in files {
                highest = max(highest, file.firstLSN &- 1)
                if let read = outcome.replayed.first(where: { $0.file.path == file.path }) {
                    highest = max(highest, read.result.lastLSN)
                } else if let seen = try? WALReader(path: file.path, io: io).recover({ _, _ in }) {
                    highest = max(highest, seen.lastLSN)
                }
            }
            return .freshAfterDamage(generation: nextGeneration, firstLSN: highest + 1)
        }
        if let newest = outcome.replayed.last {
            return .resume(path: newest.file.path, offset: newest.result.validEndOffset)
        }
        return .create(generation: snapshotSeq, firstLSN: outcome.appliedLSN + 1)
    }
}

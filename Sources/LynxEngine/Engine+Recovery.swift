import Logging
import LynxIndex
import LynxStorage
import LynxSupport

extension Engine {
    /// Start-up recovery: load the newest valid snapshot, replay the log generations it lacks up to the last
    /// valid commit frame, open the log for appending, and register with the commit, checkpoint and builder threads.
    /// Runs once, on a background thread, while the HTTP server answers `/health` with `recovering`.
    public func recover() throws {
        let started = monotonicSeconds()
        do {
            try recoverState()
            // Recovered without them: damaged snapshots go aside (kept for inspection, never read again).
            for damaged in directory.damagedSnapshots { directory.keepAside(damaged.path, logger: logger) }
            backups.removeUnfinished(logger: logger)
        } catch {
            let reason = "recovery failed: \((error as? StorageError)?.summary ?? "\(error)")"
            failStop(reason)
            throw error
        }
        let seconds = monotonicSeconds() - started
        metrics.recoveryDuration.set(seconds)
        checkpointer = Checkpointer(engine: self, walBytes: config.checkpointWALBytes, interval: config.checkpointIntervalSeconds,
                                    logger: logger, scheduler: services.checkpoints)
        committer?.start()
        checkpointer?.start()
        if linksInBackground {
            // Ready now, with the replayed records searchable in the tail; the builder links them behind.
            let shared = services.indexBuilder()
            builder = IndexBuilder(engine: self, batchSize: config.indexBuildBatch, builders: shared.thread, pool: shared.pool)
            builder?.setPaused(config.linkingStartsPaused)
            builder?.start()
        }
        setStatus(.ready)
        services.heapRelease.noteWork()
        logger.info("ready", metadata: [
            "vectors": "\(count)", "pending": "\(pendingCount)", "recovery_seconds": "\((seconds * 1000).rounded() / 1000)",
            "last_lsn": "\(log.lastLSN)",
        ])
    }

    /// Loads the newest valid snapshot, replays the log generations it lacks, and opens the log for appending.
    private func recoverState() throws {
        let (baseSeq, baseLSN) = try loadNewestSnapshot()
        let (allFiles, damagedHeaders) = try directory.logFiles()
        let plan = LogReplay(logFiles: allFiles, damagedHeaders: damagedHeaders, snapshotSeq: baseSeq, snapshotLSN: baseLSN)
        try refuseUnlessReplayable(plan, damagedHeaders: damagedHeaders, baseSeq: baseSeq, baseLSN: baseLSN)
        let outcome = try replay(plan, baseLSN: baseLSN)
        try openLog(after: outcome, of: plan, baseSeq: baseSeq)
    }

    /// 1. The newest valid snapshot (an older one when the newest is damaged): its sequence and LSN (0, 0: none).
    private func loadNewestSnapshot() throws -> (seq: UInt64, lsn: UInt64) {
        var base: (seq: UInt64, lsn: UInt64) = (0, 0)
        let loadStart = monotonicSeconds()
        if let (snapshot, loaded) = try directory.loadNewestSnapshot(logger: logger, decode: { snapshot in
            try SnapshotCodec.decode(snapshot.sections, dimension: dimension, metric: metric, spec: directory.manifest.index, config: config,
                                     stagesWrites: linksInBackground, rowSource: directory.rowChunks)
        }) {
            stateLock.write { state = loaded }
            base = (snapshot.seq, snapshot.lastLSN)
            logger.info("loaded snapshot without rebuilding the index", metadata: [
                "seq": "\(base.seq)", "lsn": "\(base.lsn)", "vectors": "\(loaded.index.count)",
                "index": "\(indexKind.rawValue)", "seconds": "\(((monotonicSeconds() - loadStart) * 1000).rounded() / 1000)",
            ])
        }
        directory.lastSnapshotSeq = base.seq
        return base
    }

    /// 2a. Refuses to start when the log cannot be replayed without possibly losing acknowledged writes.
    private func refuseUnlessReplayable(_ plan: LogReplay, damagedHeaders: [(path: String, size: UInt64)], baseSeq: UInt64,
                                        baseLSN: UInt64) throws {
        for damaged in damagedHeaders {
            metrics.walInvalidFrames.add(["badHeader"])
            logger.critical("a log file has a damaged header", metadata: ["file": "\(damaged.path)", "bytes": "\(damaged.size)"])
        }
        switch plan.refusal {
        case .damagedHeader(let path, _)?:
            throw EngineError.internalError(
                "\(path) has a damaged header, so its frames cannot be verified; it may hold acknowledged writes, "
                + "so lynxd will not start without it. Keep a copy, then move it aside (mv \(path) \(path).broken) "
                + "to start from the snapshot and the other log file")
        case .gapAfterSnapshot(let path, let firstLSN, _, _)?:
            metrics.walInvalidFrames.add(["lsn_gap"])
            throw EngineError.internalError(
                "the log starts at LSN \(firstLSN) (\(path)) but the newest usable snapshot ends at LSN \(baseLSN)"
                + (baseSeq == 0 ? " (no usable snapshot)" : " (snapshot \(baseSeq))")
                + ": the writes in between are missing, most likely with a damaged snapshot; refusing to start. "
                + "Restore the snapshot (see the lines above), or move the data directory aside to start empty")
        case nil:
            break
        }
    }

    /// 2b. Applies the log generations the snapshot lacks (LogReplay decides which), reporting progress.
    private func replay(_ plan: LogReplay, baseLSN: UInt64) throws -> LogReplay.Outcome {
        let totalBytes = max(1, plan.files.reduce(0) { $0 + $1.size })
        var replayedBytes: UInt64 = 0
        var lastProgressLog = monotonicSeconds()
        retained?.reset(nextLSN: baseLSN + 1)
        let outcome = try plan.replay(io: directory.io, apply: { lsn, ops in
            try stateLock.write { try state.applyReplayed(ops, dimension: dimension) }
            retained?.append(commitLSN: lsn, ops)
            replayedBytes += UInt64(ops.reduce(0) { $0 + $1.approximateBytes })
            let now = monotonicSeconds()
            setStatus(.recovering(progress: min(0.99, Double(replayedBytes) / Double(totalBytes))))
            if now - lastProgressLog > 2 {
                lastProgressLog = now
                let percent = Int(100 * Double(replayedBytes) / Double(totalBytes))
                logger.info("replaying the log", metadata: ["progress": "\(percent)%", "lsn": "\(lsn)"])
            }
        }, onRead: { read in
            let result = read.result
            guard result.stopReason != .endOfLog else { return }
            metrics.walInvalidFrames.add([result.stopReason.rawValue])
            let meta: Logger.Metadata = [
                "file": "\(read.file.path)", "reason": "\(result.stopReason.rawValue)", "offset": "\(result.stopOffset)",
                "bytes_ignored": "\(result.bytesAfterValidEnd)", "last_lsn": "\(result.lastLSN)",
            ]
            if result.isCorruption {
                logger.error("the log is damaged: replay stopped at the last valid commit frame before the damage", metadata: meta)
            } else {
                logger.notice("the log ends in a torn or stale tail (the process died mid-write); ignored", metadata: meta)
            }
        })
        if let (file, expected) = outcome.gap {
            metrics.walInvalidFrames.add(["lsn_gap"])
            logger.error("log generation starts after a gap; not replaying it or anything later", metadata: [
                "file": "\(file.path)", "generation": "\(file.generation)", "first_lsn": "\(file.firstLSN)", "expected": "\(expected)",
            ])
        }
        metrics.recoveryFramesReplayed.set(Double(outcome.appliedFrames))
        logger.info("replayed the log", metadata: [
            "frames": "\(outcome.appliedFrames)", "files": "\(outcome.replayed.count)", "last_lsn": "\(outcome.appliedLSN)"])
        return outcome
    }

    /// 3. Opens the log for appending where the replay says (or, with `--wal off`, persists what it held and drops it).
    private func openLog(after outcome: LogReplay.Outcome, of plan: LogReplay, baseSeq: UInt64) throws {
        let files = plan.files
        guard config.walEnabled else {
            if outcome.appliedFrames > 0 || outcome.damaged {  // (a damaged log with --wal off: the recovered prefix is what survives)
                // No log from now on: persist what the log held, then drop it.
                try writeRecoverySnapshot(seq: plan.nextGeneration, lsn: outcome.appliedLSN)
            }
            for file in files { try? directory.io.unlink(file.path) }
            log = MemoryLog(lastLSN: outcome.appliedLSN, safeSnapshotSeq: directory.lastSnapshotSeq)
            return
        }
        switch outcome.continuation {
        case .freshAfterDamage(let generation, let firstLSN):
            // Never append after damage: frames beyond it were not applied and must not be revived by a later
            // replay. Persist the recovered state as a new snapshot, keep the damaged files aside, start afresh.
            try writeRecoverySnapshot(seq: generation, lsn: firstLSN - 1)
            for file in files { directory.keepAside(file.path, logger: logger) }
            installLog(writer: try newWriter(generation: generation, firstLSN: firstLSN), pendingBytes: 0, pendingFrames: 0,
                       safeSeq: generation)
        case .resume:
            let results = outcome.replayed
            let writer = try WALWriter(resuming: results[results.count - 1].result, preallocationBytes: config.walPreallocationBytes,
                                       mapAppends: config.usesMappedWALAppends, io: directory.io)
            let previous = results.dropLast().last
            installLog(
                writer: writer,
                pendingBytes: previous.map { $0.result.validEndOffset - UInt64(WALFormat.headerSize) } ?? 0,
                pendingFrames: previous?.result.committedFrames ?? 0,
                safeSeq: baseSeq)
        case .create(let generation, let firstLSN):
            installLog(writer: try newWriter(generation: generation, firstLSN: firstLSN), pendingBytes: 0, pendingFrames: 0,
                       safeSeq: baseSeq)
        }
    }

    private func newWriter(generation: UInt64, firstLSN: UInt64) throws -> WALWriter {
        try WALWriter(creating: directory.walPath(generation: generation), checkpointSeq: generation, firstLSN: firstLSN,
                      preallocationBytes: config.walPreallocationBytes, mapAppends: config.usesMappedWALAppends, io: directory.io)
    }

    private func installLog(writer: WALWriter, pendingBytes: UInt64, pendingFrames: Int, safeSeq: UInt64) {
        let manager = LogManager(
            directory: directory.path, io: directory.io, writer: writer,
            previousGenerationBytes: pendingBytes, previousGenerationFrames: pendingFrames,
            safeSnapshotSeq: safeSeq, truncateAbove: UInt64(max(config.checkpointWALBytes * 2, 1 << 20)),
            preallocationBytes: config.walPreallocationBytes, mapAppends: config.usesMappedWALAppends)
        log = manager
        // After damage the log goes on past a gap of LSNs: followers behind it start from a snapshot.
        if let retained, retained.nextLSN != writer.lastLSN + 1 { retained.reset(nextLSN: writer.lastLSN + 1) }
        committer = Committer(
            log: manager, metrics: metrics, logger: logger, interval: config.syncIntervalSeconds, loop: services.commitThread(),
            onFailure: { [weak self] reason in self?.failStop(reason) })
    }

    private func writeRecoverySnapshot(seq: UInt64, lsn: UInt64) throws {
        let captured = stateLock.read { state }  // an O(1) copy-on-write snapshot of the state
        try directory.writeSnapshot(of: captured, seq: seq, lastLSN: lsn)
        directory.lastSnapshotSeq = seq
        directory.removeOlderThan(snapshot: seq, logger: logger)
        logger.notice("wrote a snapshot of the recovered state", metadata: ["seq": "\(seq)", "lsn": "\(lsn)"])
    }

    /// For a clean exit: stops the builder, makes acknowledged writes durable, writes a checkpoint (so the next start
    /// replays nothing; pending records go into it as they are), then leaves the other threads and closes the log.
    /// Shared services keep running for the other engines; services the engine made itself stop.
    /// The checkpoint is bounded by `shutdownCheckpointSeconds`: past it the process may exit, the log being durable.
    /// `checkpoint: false` leaves the log to be replayed at the next start (as after a crash).
    public func close(checkpoint: Bool = true) {
        builder?.stop()
        checkpointer?.stop()
        if status == .ready && checkpoint {
            _ = writerLock.withLock { _ in try? log.sync() }
            shutdownCheckpoint()
        }
        committer?.stop()
        writerLock.withLock { _ in
            _ = try? log.sync()
            log.close()
        }
        directory.unlock()
        if ownsServices { services.shutdown() }
    }

    /// Runs the shutdown checkpoint on its own thread and waits for it at most `shutdownCheckpointSeconds`.
    private func shutdownCheckpoint() {
        let done = ConditionLock()
        var finished = false
        let started = monotonicSeconds()
        spawnThread(name: "lynx-shutdown-checkpoint") { [self] in
            do {
                let report = try checkpoint()
                logger.info("shutdown checkpoint written", metadata: [
                    "seq": "\(report.checkpointSeq)", "lsn": "\(report.lsn)", "pending": "\(pendingCount)",
                    "seconds": "\((report.durationSeconds * 1000).rounded() / 1000)",
                ])
            } catch {
                logger.error("shutdown checkpoint failed; the next start replays the log: \(error)")
            }
            done.withLock { finished = true; done.signal() }
        }
        done.withLock {
            while !finished {
                let left = config.shutdownCheckpointSeconds - (monotonicSeconds() - started)
                if left <= 0 {
                    logger.warning("shutdown checkpoint still running; exiting without it (the log is durable and is replayed at the next start)",
                                   metadata: ["seconds": "\(config.shutdownCheckpointSeconds)"])
                    return
                }
                done.wait(seconds: left)
            }
        }
    }
}

extension WALOperation {
    /// About how many log bytes the operation takes (for progress reports).
    var approximateBytes: Int {
        switch self {
        case .upsert(_, let vector, let metadata): return 48 + vector.count * 4 + metadata.count
        case .delete: return 40
        case .createMetadataIndex(let path, _), .dropMetadataIndex(let path): return 40 + path.reduce(0) { $0 + $1.utf8.count }
        }
    }
}

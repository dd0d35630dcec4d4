import Foundation
import LynxEngine
import LynxIndex
import LynxJSON
import LynxStorage
import XCTest

/// The engine's write path under storage faults, driven through the file-I/O seam: a failed append applies
/// nothing and the store keeps working; a failed fsync stops writes (never retried) and a restart recovers
/// every acknowledged write from the log.
final class EngineDurabilityTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "lynx-engine-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func config(_ tweak: (inout EngineConfig) -> Void = { _ in }) -> EngineConfig {
        var c = EngineConfig()
        c.dataDir = dir
        c.dimension = 4
        c.metric = .l2
        c.index = .flat
        c.syncIntervalSeconds = 0.05
        tweak(&c)
        return c
    }

    func open(_ io: FileIO = SystemFileIO(), _ tweak: (inout EngineConfig) -> Void = { _ in }) throws -> Engine {
        let engine = try Engine(config: config(tweak), io: io)
        try engine.recover()
        return engine
    }

    func record(_ id: UInt64, _ x: Float, tag: String? = nil) -> VectorRecord {
        let metadata = tag.map { try! Metadata(json: Array(#"{"tag":"\#($0)"}"#.utf8)) }
        return VectorRecord(id: id, vector: [x, x + 1, x + 2, x + 3], metadata: metadata)
    }

    func assertStored(_ engine: Engine, _ expected: [UInt64: VectorRecord], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(engine.count, expected.count, "count", file: file, line: line)
        for (id, want) in expected {
            let got = try XCTUnwrap(try engine.get(id), "id \(id) missing", file: file, line: line)
            XCTAssertEqual(got.vector, want.vector, "vector of \(id)", file: file, line: line)
            XCTAssertEqual(got.metadata?.json, want.metadata?.json, "metadata of \(id)", file: file, line: line)
        }
    }

    /// Reopens the store (the previous engine closed) and checks it holds exactly `expected`.
    func assertRestartRecovers(_ expected: [UInt64: VectorRecord], file: StaticString = #filePath, line: UInt = #line) throws {
        let reopened = try open()
        try assertStored(reopened, expected, file: file, line: line)
        reopened.close()
    }

    func durable(_ engine: Engine, _ lsn: UInt64) -> Result<UInt64, EngineError> {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        engine.whenDurable(lsn) { result in
            box.result = result
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "whenDurable never called back")
        return box.result ?? .failure(.internalError("timeout"))
    }

    // MARK: - Append faults

    // The pwrite path (`--sync always`, or where the system refuses the mapping): every append is a pwrite.
    func testNoSpaceOnAppendAppliesNothingAndWritesResumeWhenSpaceReturns() throws {
        let io = FaultInjectingFileIO()
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open(io) { $0.walMapAppends = false }
            for i in 0..<5 as Range<UInt64> {
                _ = try engine.upsert([record(i, Float(i), tag: "t\(i)")])
                expected[i] = record(i, Float(i), tag: "t\(i)")
            }
            io.failWrites(errno: ENOSPC)
            XCTAssertThrowsError(try engine.upsert([record(100, 100), record(101, 101)])) { error in
                guard case EngineError.noSpace = error else { return XCTFail("expected noSpace, got \(error)") }
            }
            // Nothing of the failed batch is visible, reads work, and the store still takes writes.
            XCTAssertNil(try engine.get(100))
            XCTAssertNil(try engine.get(101))
            try assertStored(engine, expected)
            XCTAssertEqual(engine.status, .ready)
            _ = try engine.upsert([record(6, 6)])
            expected[6] = record(6, 6)
            try assertStored(engine, expected)
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        try assertRestartRecovers(expected)
    }

    // What /health/ready reports as disk-full: set by a write that ran out of space, cleared by a write that
    // succeeds or once the free space has grown past what it was at the failure.
    func testNoSpaceMarksTheDiskFullUntilSpaceReturnsOrAWriteSucceeds() throws {
        let io = FaultInjectingFileIO()
        io.availableBytesOverride = 1_000
        let engine = try open(io) { $0.walMapAppends = false }
        defer { engine.close(checkpoint: false) }
        XCTAssertEqual(engine.availableDiskBytes, 1_000)
        XCTAssertFalse(engine.lastWriteFoundDiskFull)
        io.failWrites(errno: ENOSPC)
        XCTAssertThrowsError(try engine.upsert([record(1, 1)]))
        XCTAssertTrue(engine.lastWriteFoundDiskFull)
        io.availableBytesOverride = 900
        XCTAssertTrue(engine.lastWriteFoundDiskFull, "less space than at the failure")
        io.availableBytesOverride = 1_001
        XCTAssertFalse(engine.lastWriteFoundDiskFull, "space was freed")
        io.availableBytesOverride = 1_000
        XCTAssertTrue(engine.lastWriteFoundDiskFull, "the mark stays until a write succeeds")
        _ = try engine.upsert([record(2, 2)])
        XCTAssertFalse(engine.lastWriteFoundDiskFull, "a write went through")
        // A checkpoint that runs out of space marks it too; one that succeeds clears it.
        io.failWrites(errno: ENOSPC)
        XCTAssertThrowsError(try engine.checkpoint())
        XCTAssertTrue(engine.lastWriteFoundDiskFull)
        try engine.checkpoint()
        XCTAssertFalse(engine.lastWriteFoundDiskFull)
        XCTAssertEqual(engine.status, .ready)
    }

    func testShortWriteIsNeverCountedAndIsOverwritten() throws {
        let io = FaultInjectingFileIO()
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open(io) { $0.walMapAppends = false }
            _ = try engine.upsert([record(1, 1)])
            expected[1] = record(1, 1)
            io.shortWrite(keep: 20)
            XCTAssertThrowsError(try engine.upsert([record(2, 2)]))
            io.clearFaults()
            XCTAssertNil(try engine.get(2))
            _ = try engine.upsert([record(3, 3)])
            expected[3] = record(3, 3)
            _ = try engine.delete(1)
            expected[1] = nil
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        try assertRestartRecovers(expected)
    }

    // Mapped appends (`--sync flush`): space is taken when the log writes zeros ahead, so that is where a full
    // disk fails an append; the stores into the mapping below those zeros cannot fail.
    func testNoSpaceForTheZerosAheadFailsTheMappedAppendAndAppliesNothing() throws {
        let io = FaultInjectingFileIO()
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open(io)
            XCTAssertTrue(engine.config.usesMappedWALAppends)
            // The fresh log has no zeros ahead yet: the first append writes them, and the disk is full.
            io.failWrites(errno: ENOSPC, after: 2)
            XCTAssertThrowsError(try engine.upsert([record(1, 1, tag: "a"), record(2, 2)])) { error in
                guard case EngineError.noSpace = error else { return XCTFail("expected noSpace, got \(error)") }
            }
            XCTAssertNil(try engine.get(1))
            XCTAssertEqual(engine.lastLSN, 0)
            XCTAssertEqual(engine.status, .ready)
            // Space returns: the append writes the zeros and goes through the mapping; later appends below them
            // make no pwrite at all.
            io.clearFaults()
            _ = try engine.upsert([record(1, 1, tag: "a"), record(2, 2)])
            let pwrites = io.calls(.pwrite)
            for i in 3..<50 as Range<UInt64> {
                _ = try engine.upsert([record(i, Float(i))])
                expected[i] = record(i, Float(i))
            }
            XCTAssertEqual(io.calls(.pwrite), pwrites, "appends below the zeros ahead must not pwrite")
            expected[1] = record(1, 1, tag: "a")
            expected[2] = record(2, 2)
            _ = try engine.delete(7)
            expected[7] = nil
            try assertStored(engine, expected)
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        try assertRestartRecovers(expected)
    }

    func testDeleteOfAbsentIdIsNotFoundAndLogsNothing() throws {
        let engine = try open()
        let before = engine.lastLSN
        XCTAssertThrowsError(try engine.delete(42)) { error in
            XCTAssertEqual(error as? EngineError, .notFound(id: 42))
        }
        XCTAssertEqual(engine.lastLSN, before)
        engine.close()
    }

    // MARK: - fsync failure

    func testFailedFsyncStopsWritesAndRestartRecoversAcknowledgedWrites() throws {
        let io = FaultInjectingFileIO()
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open(io)
            let first = try engine.upsert([record(1, 1)])
            XCTAssertEqual(try durable(engine, first).get(), first)
            expected[1] = record(1, 1)

            io.fail(.fdatasync, errno: EIO)
            let second = try engine.upsert([record(2, 2)])  // acknowledged: it reached the kernel
            expected[2] = record(2, 2)
            guard case .failure(.failed) = durable(engine, second) else { return XCTFail("durable wait should fail") }
            guard case .failed = engine.status else { return XCTFail("status should be failed, is \(engine.status)") }
            // Never retried: later writes are refused, reads still work.
            XCTAssertThrowsError(try engine.upsert([record(3, 3)])) { error in
                guard case EngineError.failed = error else { return XCTFail("expected failed, got \(error)") }
            }
            XCTAssertNotNil(try engine.get(2))
            XCTAssertEqual(io.calls(.fdatasync) >= 2, true)
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        let reopened = try open()
        try assertStored(reopened, expected)
        XCTAssertEqual(reopened.status, .ready)
        reopened.close()
    }

    // MARK: - Checkpoints and recovery

    func testCheckpointSwitchesGenerationsAndRecoveryIsExact() throws {
        var expected: [UInt64: VectorRecord] = [:]
        do {
            let engine = try open()
            for i in 0..<50 as Range<UInt64> {
                _ = try engine.upsert([record(i, Float(i), tag: i % 2 == 0 ? "even" : "odd")])
                expected[i] = record(i, Float(i), tag: i % 2 == 0 ? "even" : "odd")
            }
            let first = try engine.checkpoint()
            XCTAssertEqual(first.checkpointSeq, 1)
            XCTAssertEqual(engine.logReport().checkpointLagFrames, 0)
            for i in 0..<10 as Range<UInt64> {
                _ = try engine.delete(i)
                expected[i] = nil
            }
            _ = try engine.upsert([record(20, 99, tag: "new")])
            expected[20] = record(20, 99, tag: "new")
            XCTAssertEqual(engine.logReport().checkpointLagFrames, 11)
            let second = try engine.checkpoint()
            XCTAssertEqual(second.checkpointSeq, 2)
            for i in 10..<15 as Range<UInt64> {
                _ = try engine.delete(i)
                expected[i] = nil
            }
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        let reopened = try open()
        try assertStored(reopened, expected)
        // Deleted before and after the checkpoints: none came back.
        for i in 0..<15 as Range<UInt64> { XCTAssertNil(try reopened.get(i), "id \(i) came back") }
        reopened.close()
    }

    func testWalOffPersistsOnlyThroughCheckpoints() throws {
        do {
            let engine = try open(SystemFileIO()) { $0.walEnabled = false }
            _ = try engine.upsert([record(1, 1)])
            _ = try engine.checkpoint()
            _ = try engine.upsert([record(2, 2)])  // not checkpointed
            engine.close(checkpoint: false)  // as before the shutdown checkpoint: the log is replayed
        }
        let reopened = try open(SystemFileIO()) { $0.walEnabled = false }
        XCTAssertNotNil(try reopened.get(1))
        XCTAssertNil(try reopened.get(2), "without a log, only checkpointed writes persist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/wal-0.log"))
        reopened.close()
    }

    func testManifestConflictIsRefusedWithTheFieldNamed() throws {
        try open().close()
        XCTAssertThrowsError(try Engine(config: config { $0.dimension = 8 })) { error in
            XCTAssertEqual(error as? EngineError, .settingConflict(path: dir, setting: "dimension", existing: "4", requested: "8"))
        }
    }

    /// A new IVF data directory records spill (default 1) in its manifest; one created before spill existed (no
    /// such key) keeps spill 0, and asking it for a spill value is a manifest conflict.
    func testIVFSpillIsFixedByTheManifestAndOldDirectoriesKeepSpillZero() throws {
        func spill(_ e: Engine) -> String? { e.stats().indexParameters.first { $0.0 == "spill" }?.1 }
        let fresh = try open { $0.index = .ivf }
        XCTAssertEqual(spill(fresh), "1")
        fresh.close()
        XCTAssertEqual(try Manifest.load(dir: dir)?.parameters["spill"], "1")
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try Manifest.loadOrCreate(dir: dir, requested: Manifest.Request(
            dimension: 4, metric: "l2", indexType: "ivf", parameters: ["n_clusters": "0"]))
        let old = try open { $0.index = .ivf }
        XCTAssertEqual(spill(old), "0")
        old.close()
        XCTAssertThrowsError(try Engine(config: config { $0.index = .ivf; $0.indexParameters[.spill] = 1 })) { error in
            XCTAssertTrue("\(error)".contains("spill"), "\(error)")
        }
    }

    func testSecondEngineOnTheSameDirectoryIsRefused() throws {
        let engine = try open()
        XCTAssertThrowsError(try Engine(config: config())) { error in
            XCTAssertEqual(error as? EngineError, .directoryInUse(path: dir, pid: getpid()))
        }
        engine.close()
    }
}

private final class ResultBox: @unchecked Sendable {
    var result: Result<UInt64, EngineError>?
}

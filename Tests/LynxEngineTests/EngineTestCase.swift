import Foundation
import LynxEngine
import LynxIndex
import XCTest

/// A test case that opens engines in temporary data directories (removed after each test), with small HNSW
/// parameters, one builder thread and no automatic checkpoints.
class EngineTestCase: XCTestCase {
    var dirs: [String] = []

    override func tearDownWithError() throws {
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir) }
    }

    func newDir() -> String {
        let dir = NSTemporaryDirectory() + "lynx-engine-test-\(UUID().uuidString)"
        dirs.append(dir)
        return dir
    }

    func open(_ dir: String, index: IndexKind = .hnsw, dimension: Int = 16, metric: Metric = .l2,
              tweak: (inout EngineConfig) -> Void = { _ in }) throws -> Engine {
        var c = EngineConfig.forTests(dir: dir, dimension: dimension, index: index, metric: metric)
        c.indexParameters[.m] = 8
        c.indexParameters[.efConstruction] = 64
        tweak(&c)
        let engine = try Engine(config: c)
        try engine.recover()
        return engine
    }

    /// A database (the default collection and up to 8 more) in `dir`, recovered; the caller closes it.
    func openDatabase(_ dir: String, index: IndexKind = .flat, dimension: Int = 2) throws -> Database {
        let db = try Database(config: .forTests(dir: dir, dimension: dimension, index: index), maxCollections: 8)
        try db.recoverAll()
        return db
    }
}

extension EngineConfig {
    /// The engine tests' settings: seeded HNSW levels, one builder thread, a short sync interval and no automatic
    /// checkpoints (a test checkpoints when it means to).
    static func forTests(dir: String, dimension: Int, index: IndexKind, metric: Metric = .l2) -> EngineConfig {
        var c = EngineConfig()
        c.dataDir = dir
        c.dimension = dimension
        c.metric = metric
        c.index = index
        c.hnswSeed = 7
        c.indexThreads = 1
        c.syncIntervalSeconds = 0.05
        c.checkpointWALBytes = 1 << 40
        c.checkpointIntervalSeconds = 1e9
        return c
    }
}

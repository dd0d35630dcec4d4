import Foundation
import XCTest
import LynxEngine
import LynxStorage
import Synchronization

/// `Database.replaceStore`, the follower's bootstrap: a running database's store becomes a backup's, while readers
/// keep finding the store (no lookup sees it missing).
final class ReplaceStoreTests: XCTestCase {
    func testTheDefaultStoreBecomesTheBackupsWhileReadersGoOn() throws {
        let root = NSTemporaryDirectory() + "replace-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        func config(_ dir: String) -> EngineConfig {
            var c = EngineConfig()
            c.dataDir = dir
            c.dimension = 3
            c.index = .flat
            return c
        }
        // The leader's store: 50 records, backed up; the archive is what a follower downloads.
        let leader = try Database(config: config(root + "/leader"), maxCollections: 4)
        try leader.recoverAll()
        for i in 0..<50 { _ = try leader.defaultEngine.upsert([VectorRecord(id: UInt64(i), vector: [Float(i), 1, 0])]) }
        let backup = try leader.defaultEngine.createBackup()
        let opened = try leader.defaultEngine.openBackup(backup.name)
        let archive = root + "/snapshot.tar"
        let source = FileHandle(fileDescriptor: opened.fd, closeOnDealloc: true)
        try source.readToEnd()!.write(to: URL(fileURLWithPath: archive))
        leader.close()

        // The follower's store: other records, replaced while a reader hammers the default store.
        let follower = try Database(config: config(root + "/follower"), maxCollections: 4)
        try follower.recoverAll()
        for i in 1000..<1010 { _ = try follower.defaultEngine.upsert([VectorRecord(id: UInt64(i), vector: [1, 2, 3])]) }
        let stop = Atomic<Bool>(false)
        let reads = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while !stop.load(ordering: .relaxed) {
                _ = follower.defaultEngine.count
                _ = try? follower.defaultEngine.get(1000)
                reads.add(1, ordering: .relaxed)
            }
            done.signal()
        }
        let report = try follower.replaceStore(.default, withArchive: archive)
        stop.store(true, ordering: .relaxed)
        done.wait()
        XCTAssertEqual(report.info.lsn, backup.lsn)
        XCTAssertGreaterThan(reads.load(ordering: .relaxed), 0)
        XCTAssertEqual(follower.defaultEngine.count, 50)
        XCTAssertNil(try follower.defaultEngine.get(1000), "the follower's own records are gone")
        XCTAssertEqual(try follower.defaultEngine.get(7)?.vector, [7, 1, 0])
        XCTAssertEqual(follower.defaultEngine.lastLSN, backup.lsn, "the log goes on after the backup's LSN")
        follower.close()
    }
}

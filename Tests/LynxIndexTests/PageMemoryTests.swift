import Foundation
import LynxSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `PageMemory` and `HeapRelease` (LynxSupport, which has no test target of its own).
final class PageMemoryTests: XCTestCase {
    /// Zeroed, aligned to the page size and writable over the whole size asked for (a part page included).
    func testAllocationIsZeroedAlignedAndWritable() {
        for bytes in [1, 4096, 10_000, 1024 * 384 * 4] {
            let memory = PageMemory.allocate(byteCount: bytes)
            defer { memory.deallocate() }
            XCTAssertEqual(Int(bitPattern: memory.base) % Int(getpagesize()), 0)
            let b = memory.base.bindMemory(to: UInt8.self, capacity: bytes)
            XCTAssertTrue(UnsafeBufferPointer(start: b, count: bytes).allSatisfy { $0 == 0 }, "\(bytes)")
            b.update(repeating: 0xA5, count: bytes)
            XCTAssertEqual(b[bytes - 1], 0xA5)
        }
    }

    /// Blocks of a few MiB, written and then dropped, leave the process's anonymous memory where it was: each
    /// is its own mapping, given back at once.
    func testDroppedMemoryLeavesTheProcess() throws {
        let before = try rssAnonKiB()
        var blocks: [PageMemory] = []
        for _ in 0..<16 {
            let m = PageMemory.allocate(byteCount: 4 << 20)
            m.base.initializeMemory(as: UInt8.self, repeating: 1, count: 4 << 20)
            blocks.append(m)
        }
        let held = try rssAnonKiB()
        for m in blocks { m.deallocate() }
        let after = try rssAnonKiB()
        XCTAssertGreaterThan(held - before, 60 * 1024, "64 MiB written should be resident")
        XCTAssertLessThan(after - before, 8 * 1024, "RssAnon \(before) -> \(held) -> \(after) KiB")
    }

    /// One release once work has been quiet for `quietSeconds`; while work goes on, one at least every
    /// `longestSeconds`.
    func testHeapReleaseWaitsForAPauseButNotForever() {
        let release = HeapRelease(quietSeconds: 0.2, longestSeconds: 0.6)
        release.noteWork()
        XCTAssertEqual(release.releaseCount, 0)
        let quiet = Date().addingTimeInterval(2)
        while release.releaseCount == 0 && Date() < quiet { usleep(20_000) }
        XCTAssertEqual(release.releaseCount, 1, "released once after a pause")

        let busyUntil = Date().addingTimeInterval(1.5)
        while Date() < busyUntil {
            release.noteWork()
            usleep(50_000)
        }
        XCTAssertGreaterThanOrEqual(release.releaseCount, 2, "a release within longestSeconds of steady work")
    }

    private func rssAnonKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        return try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }
}

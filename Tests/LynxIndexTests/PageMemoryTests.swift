import LynxSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

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
}

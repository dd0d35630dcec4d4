#if canImport(Glibc)
import Glibc
#endif

/// Zeroed, page-aligned memory that is its own anonymous mapping, so that freeing it gives it back to the system
/// at once. Memory from `malloc` does not go back: glibc raises its mmap threshold after a large block is freed
/// (up to 32 MiB), serves later blocks from the arena of the allocating thread, and keeps them there once they
/// are freed, even when another thread frees them. For long-lived blocks that come and go in bulk (the row chunks
/// of vectors) that left the process holding what it no longer used.
///
/// Threads: any.
public struct PageMemory {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// False when the mapping failed (e.g. the process ran out of mappings) and the block came from the heap.
    let mapped: Bool

    /// At least `byteCount` bytes, zeroed, aligned to the page size (4096 or more).
    public static func allocate(byteCount: Int) -> PageMemory {
        precondition(byteCount > 0, "allocate at least one byte")
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if let p, p != MAP_FAILED {
            return PageMemory(base: p, byteCount: byteCount, mapped: true)
        }
        let heap = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: Int(getpagesize()))
        heap.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        return PageMemory(base: heap, byteCount: byteCount, mapped: false)
    }

    public func deallocate() {
        if mapped {
            munmap(base, byteCount)
        } else {
            base.deallocate()
        }
    }
}

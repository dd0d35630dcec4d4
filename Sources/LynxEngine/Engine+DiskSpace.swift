import LynxStorage
import Synchronization

/// Whether the store found its disk full. A failed write says so before `statvfs` does (a quota, a write larger
/// than the space left), and the flag must also clear without a write: a store reported not ready may get none.
extension Engine {
    /// `diskFullMark` when no write has run out of space since the last one that succeeded.
    static let noDiskFullMark = UInt64.max
    /// `diskFullMark` when `statvfs` failed at the failure: only a successful write clears it.
    private static let unknownFreeBytes = UInt64.max - 1

    /// Bytes lynxd may still write on the filesystem of this store's directory; nil when `statvfs` fails.
    public var availableDiskBytes: UInt64? { directory.io.availableBytes(at: directory.path) }

    /// True while the last log append or checkpoint failed for lack of space (ENOSPC, EDQUOT, a short write)
    /// and since then no append or checkpoint has succeeded and the filesystem's free space has not grown past
    /// what it was at that failure. Any thread.
    public var lastWriteFoundDiskFull: Bool {
        let mark = diskFullMark.load(ordering: .relaxed)
        guard mark != Self.noDiskFullMark else { return false }
        guard mark != Self.unknownFreeBytes, let now = availableDiskBytes else { return true }
        return now <= mark
    }

    func noteDiskFull() {
        diskFullMark.store(min(availableDiskBytes ?? Self.unknownFreeBytes, Self.unknownFreeBytes), ordering: .relaxed)
    }

    /// Called after every successful append: one relaxed load unless a failure is marked.
    func noteWriteStored() {
        if diskFullMark.load(ordering: .relaxed) != Self.noDiskFullMark {
            diskFullMark.store(Self.noDiskFullMark, ordering: .relaxed)
        }
    }
}

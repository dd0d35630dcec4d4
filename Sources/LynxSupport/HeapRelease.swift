import CHeap
import Dispatch
import Synchronization

/// Gives the free memory of the malloc heap back to the system once work pauses: `quietSeconds` after the last
/// work noted, and at least every `longestSeconds` while work goes on. One per process (`HeapRelease.process`),
/// since the heap is the process's: the engines note their writes, builder steps, checkpoints and recovery, the
/// HTTP transport notes requests that held large bodies.
///
/// Why: glibc keeps freed blocks in the arena of the thread that allocated them, and once a large block has been
/// freed it serves blocks of up to 32 MiB from the arenas instead of mapping them. So an ingest's transient
/// buffers (request bodies, large answers, log frames, the builder's plans and batches, the old storage of arrays
/// that grew, a checkpoint's copies of the graph) stayed resident after it, as if the store still held them. The
/// row chunks of vectors, the bulk, never enter the arenas (`PageMemory`); this returns the rest.
///
/// Threads: `noteWork` from any thread (an atomic store; the first call of a burst arms one timer); the release
/// runs on a queue of its own.
public final class HeapRelease: Sendable {
    public static let process = HeapRelease()

    public let quietSeconds: Double
    public let longestSeconds: Double
    private let lastWork = Atomic<UInt64>(0)
    private let armed = Atomic<Bool>(false)
    private let releases = Atomic<Int>(0)
    private let queue = DispatchQueue(label: "lynx.heap-release", qos: .utility)

    public init(quietSeconds: Double = 1, longestSeconds: Double = 10) {
        self.quietSeconds = quietSeconds
        self.longestSeconds = longestSeconds
    }

    /// How many times the heap has been released (for tests).
    public var releaseCount: Int { releases.load(ordering: .acquiring) }

    public func noteWork() {
        let now = monotonicNanos()
        lastWork.store(now, ordering: .relaxed)
        guard !armed.load(ordering: .relaxed), !armed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.asyncAfter(deadline: .now() + quietSeconds) { [self] in releaseWhenQuiet(burstStart: now) }
    }

    private func releaseWhenQuiet(burstStart: UInt64) {
        let now = monotonicNanos()
        let idle = Double(now &- lastWork.load(ordering: .relaxed)) / 1e9
        if idle < quietSeconds && Double(now &- burstStart) / 1e9 < longestSeconds {
            queue.asyncAfter(deadline: .now() + (quietSeconds - idle)) { [self] in releaseWhenQuiet(burstStart: burstStart) }
            return
        }
        // Work noted from here on arms the next release.
        armed.store(false, ordering: .releasing)
        _ = lynx_release_free_heap()
        releases.add(1, ordering: .releasing)
    }

    /// Fixes glibc's heap thresholds for the process (lynxd, at start). glibc's own grow with the largest block
    /// freed, after which up to 64 MiB of a thread arena's free top stays resident and `malloc_trim` cannot return
    /// it. Blocks under `mmapThreshold` come from the arenas, as they do once glibc's threshold has grown; a
    /// thread arena's free top past `trimThreshold` goes back at once. Returns false if glibc refused either.
    @discardableResult
    public static func fixThresholds(mmapThreshold: Int = 32 << 20, trimThreshold: Int = 8 << 20) -> Bool {
        lynx_set_heap_thresholds(mmapThreshold, trimThreshold) == 1
    }
}

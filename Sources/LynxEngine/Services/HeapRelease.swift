import CHeap
import Dispatch
import LynxSupport
import Synchronization

/// Gives the free memory of the malloc heap back to the system once the engines' work pauses: `quietSeconds`
/// after the last write, builder step or checkpoint, and at least every `longestSeconds` while work goes on.
///
/// Why: glibc keeps freed blocks in the arena of the thread that allocated them, and once a large block has been
/// freed it serves blocks of up to 32 MiB from the arenas instead of mapping them. So an ingest's transient
/// buffers (request bodies, log frames, the builder's plans and batches, the old storage of arrays that grew,
/// a checkpoint's copies of the graph) stayed resident after it, as if the store still held them. The row chunks
/// of vectors, the bulk, never enter the arenas (`PageMemory`); this returns the rest.
///
/// Threads: `noteWork` from any thread (an atomic store; the first call of a burst arms one timer); the release
/// runs on a queue of its own.
final class HeapRelease: Sendable {
    let quietSeconds: Double
    let longestSeconds: Double
    private let lastWork = Atomic<UInt64>(0)
    private let armed = Atomic<Bool>(false)
    private let queue = DispatchQueue(label: "lynx.heap-release", qos: .utility)

    init(quietSeconds: Double = 1, longestSeconds: Double = 10) {
        self.quietSeconds = quietSeconds
        self.longestSeconds = longestSeconds
    }

    func noteWork() {
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
    }
}

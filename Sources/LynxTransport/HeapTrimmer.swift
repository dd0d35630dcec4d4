import CMicroHTTPD
import Dispatch
import Synchronization

/// Gives freed heap back to the system after requests that held large bodies. glibc keeps what other threads
/// freed in their arenas (and, after a large free, serves blocks of up to 32 MiB from the heap instead of
/// mmap), so the memory of a large answer would stay resident after it; `malloc_trim(0)` returns every free
/// page of every arena. It runs on a queue of its own shortly after the request completes and once more a second
/// later (libmicrohttpd frees its copy of the answer after it reports the request complete); at most one
/// request's pair of trims is pending at a time.
///
/// Threads: any.
final class HeapTrimmer: Sendable {
    /// Requests whose bodies (request and answer together) reserved at least this many bytes trigger a trim.
    let threshold: Int
    private let pending = Atomic<Bool>(false)
    private let queue = DispatchQueue(label: "lynx.http.heap-trim", qos: .utility)

    init(threshold: Int) { self.threshold = threshold }

    func requestCompleted(heldBytes: Int) {
        guard heldBytes >= threshold, !pending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.asyncAfter(deadline: .now() + 0.05) { _ = malloc_trim(0) }
        // Again a little later, for memory freed after the request was reported complete. Until then the pair is
        // pending: a stream of large requests trims at most twice a second (a trim takes every arena's lock).
        queue.asyncAfter(deadline: .now() + 1) { [self] in
            _ = malloc_trim(0)
            pending.store(false, ordering: .releasing)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import LynxSupport

/// The open connections and where each stands, for the limits libmicrohttpd cannot hold by itself.
///
/// libmicrohttpd's `--connection-timeout` measures inactivity, so a client sending one header byte every few
/// seconds would hold its connection forever. Two rules stop that:
/// - **Request deadline**: a connection that has not delivered a whole request (headers and body) within
///   `requestTimeout` of being accepted or of its previous response being sent is closed by the reaper.
/// - **Eviction**: when an accepted connection takes the open connections past the high-water mark (of the
///   whole server, or of its client address), the oldest connection that is waiting for a request or still
///   receiving one (never one whose request is being handled or answered) is closed to make room. The mark is
///   the limit less a reserve (`highWater(forLimit:workerThreads:)`), so that libmicrohttpd's own hard limits
///   (new connections wait in the backlog past `--max-connections`, are refused past `--max-connections-per-ip`)
///   are reached only when every connection has a request being handled.
///
/// "Oldest" is the earliest `readySince`: the connection that has waited longest for its request.
/// A connection is closed with `shutdown(2)`; libmicrohttpd sees the end of the stream and closes it. Every
/// `shutdown` runs under the lock that `closed` takes, and libmicrohttpd calls `closed` (its CLOSED notification)
/// before it closes the socket, so a socket is never shut after it was closed (and its number reused).
///
/// Threads: `started`/`closed` and the request phase calls come from libmicrohttpd's worker threads, `reap`
/// from the reaper's; all take the one lock, and every clock reading is taken under it, so a reading is never
/// older than a time another thread stored (an older one would make the unsigned "time waited" wrap).
package final class ConnectionTracker: @unchecked Sendable {
    package enum Phase { case waiting, receiving, handling }

    /// Why the tracker closed a connection (for the log).
    package enum Cut {
        case deadline(address: String, phase: Phase, seconds: Double)
        case evicted(address: String, phase: Phase, perAddress: Bool)
        case lingered(address: String)

        var reason: ConnectionCloseReason {
            switch self {
            case .deadline: return .deadline
            case .evicted(_, _, let perAddress): return perAddress ? .evictedPerAddress : .evicted
            case .lingered: return .answeredMidUpload
            }
        }
    }

    private struct Entry {
        let fd: Int32
        let address: String
        var readySince: UInt64
        var phase: Phase = .waiting
        /// Set once the tracker shut the socket: not counted any more, waiting for libmicrohttpd to close it.
        var closing = false
        /// After an answer written in the middle of an upload: closed at this time if the client has not gone.
        var lingerUntil: UInt64? = nil
    }

    private struct State {
        var entries: [UInt: Entry] = [:]
        /// Connections not closing, per client address and in all.
        var perAddress: [String: Int] = [:]
        var open = 0
    }

    private let state = PlainMutex(State())
    /// Monotonic nanoseconds; read only under `state`'s lock.
    private let clock: @Sendable () -> UInt64
    private let requestTimeoutNanos: UInt64
    let highWater: Int
    let perAddressHighWater: Int
    private let onCut: @Sendable ([Cut]) -> Void

    /// The mark at which eviction starts, for a limit of `limit` connections served by `workerThreads` threads.
    ///
    /// A connection the tracker shut still counts against libmicrohttpd's limits until its worker closes it, on
    /// the next turn of that worker's loop; a turn accepts up to 11 connections first. So up to about 22 per
    /// worker are shut and not yet closed while a burst of connections arrives, and the reserve below the limit
    /// is that many (at most half the limit), or 1/16 of the limit when that is more.
    package static func highWater(forLimit limit: Int, workerThreads: Int) -> Int {
        let shutNotClosed = min(limit / 2, 22 * max(1, workerThreads))
        return max(0, limit - max(1, limit / 16, shutNotClosed))
    }

    /// `clock` (nanoseconds) is for tests; nil is the monotonic clock.
    package init(requestTimeoutSeconds: Double, maxConnections: Int, maxConnectionsPerAddress: Int, workerThreads: Int,
                 clock: (@Sendable () -> UInt64)? = nil, onCut: @escaping @Sendable ([Cut]) -> Void) {
        self.clock = clock ?? { monotonicNanos() }
        requestTimeoutNanos = UInt64(requestTimeoutSeconds * 1e9)
        highWater = Self.highWater(forLimit: maxConnections, workerThreads: workerThreads)
        perAddressHighWater = Self.highWater(forLimit: maxConnectionsPerAddress, workerThreads: workerThreads)
        self.onCut = onCut
    }

    private static func key(_ connection: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection))) }

    package func started(_ connection: OpaquePointer, fd: Int32, address: String) {
        let key = Self.key(connection)
        let cuts: [Cut] = state.withLock { s in
            s.entries[key] = Entry(fd: fd, address: address, readySince: clock())
            s.open += 1
            s.perAddress[address, default: 0] += 1
            var cuts: [Cut] = []
            if s.perAddress[address, default: 0] > perAddressHighWater,
               let cut = evictOldest(&s, sparing: key, onlyFrom: address) {
                cuts.append(cut)
            }
            if s.open > highWater, let cut = evictOldest(&s, sparing: key, onlyFrom: nil) {
                cuts.append(cut)
            }
            return cuts
        }
        if !cuts.isEmpty { onCut(cuts) }
    }

    package func closed(_ connection: OpaquePointer) {
        let key = Self.key(connection)
        state.withLock { s in
            guard let entry = s.entries.removeValue(forKey: key) else { return }
            if !entry.closing { uncount(&s, entry.address) }
        }
    }

    package func setPhase(_ connection: OpaquePointer, _ phase: Phase) {
        let key = Self.key(connection)
        state.withLock { s in
            guard s.entries[key] != nil else { return }
            s.entries[key]!.phase = phase
            if phase == .waiting { s.entries[key]!.readySince = clock() }
        }
    }

    /// An answer was written in the middle of an upload: the connection is closed after `seconds` if the
    /// client has not closed it by then (time for it to read the answer instead of a reset).
    func linger(_ connection: OpaquePointer, seconds: Double) {
        let key = Self.key(connection)
        state.withLock { s in
            s.entries[key]?.lingerUntil = clock() &+ UInt64(seconds * 1e9)
        }
    }

    /// Closes the connections past their request deadline or their linger. Called by the reaper.
    package func reap() {
        let cuts: [Cut] = state.withLock { s in
            let now = clock()
            var cuts: [Cut] = []
            for (key, entry) in s.entries where !entry.closing {
                if let until = entry.lingerUntil {
                    if now > until {
                        close(&s, key)
                        cuts.append(.lingered(address: entry.address))
                    }
                } else if entry.phase != .handling {
                    let waited = Self.elapsed(since: entry.readySince, now: now)
                    if waited > requestTimeoutNanos {
                        close(&s, key)
                        cuts.append(.deadline(address: entry.address, phase: entry.phase, seconds: Double(waited) / 1e9))
                    }
                }
            }
            return cuts
        }
        if !cuts.isEmpty { onCut(cuts) }
    }

    /// Nanoseconds from `start` to `now`, 0 when `start` is later: a wrapped difference would read as centuries.
    package static func elapsed(since start: UInt64, now: UInt64) -> UInt64 { now > start ? now - start : 0 }

    /// Connections counted against the limits (not being closed).
    package var openCount: Int { state.withLock { $0.open } }

    private func evictOldest(_ s: inout State, sparing spared: UInt, onlyFrom address: String?) -> Cut? {
        var victim: (key: UInt, entry: Entry)?
        for (key, entry) in s.entries where key != spared && !entry.closing && entry.phase != .handling {
            if let address, entry.address != address { continue }
            if victim == nil || entry.readySince < victim!.entry.readySince { victim = (key, entry) }
        }
        guard let victim else { return nil }
        close(&s, victim.key)
        return .evicted(address: victim.entry.address, phase: victim.entry.phase, perAddress: address != nil)
    }

    private func close(_ s: inout State, _ key: UInt) {
        guard let entry = s.entries[key] else { return }
        s.entries[key]!.closing = true
        uncount(&s, entry.address)
        _ = shutdown(entry.fd, Int32(SHUT_RDWR))
    }

    private func uncount(_ s: inout State, _ address: String) {
        s.open -= 1
        let left = s.perAddress[address, default: 1] - 1
        s.perAddress[address] = left > 0 ? left : nil
    }
}

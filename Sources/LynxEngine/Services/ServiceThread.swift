#if canImport(Glibc)
import Glibc
#endif
import LynxSupport

/// One thread that serves many clients (one per engine: its committer, checkpointer or index builder) in turn,
/// so that the process's threads do not grow with its engines.
///
/// A client is served when it asked (`wake`), again right after a serve that returned true (more work), and in
/// every poll round (all clients, at most `pollSeconds` apart: the timed checks of the flush interval and the
/// checkpoint interval). Ready clients are served first come, first served, and one that stays busy goes to the
/// back after each serve, so every client gets a turn between two serves of another. The thread starts with the
/// first registration.
///
/// Concurrency: `register`, `unregister`, `wake` and `stop` may be called from any thread. `unregister` returns
/// once the thread no longer serves the client (a serve in progress finished); it is never served again.
final class ServiceThread<Client: AnyObject>: @unchecked Sendable {
    private let name: String
    private let niceness: Int32
    private let serve: (Client) -> Bool
    private let onExit: () -> Void
    private let cond = ConditionLock()
    // Guarded by `cond`:
    private var clients: [ObjectIdentifier: (client: Client, pollSeconds: Double)] = [:]
    private var order: [ObjectIdentifier] = []
    private var ready: [ObjectIdentifier] = []
    private var isReady: Set<ObjectIdentifier> = []
    private var pollSeconds = Double.infinity
    private var nextPoll = 0.0
    private var cursor = 0
    private var serving: ObjectIdentifier?
    private var started = false
    private var stopping = false
    private var stopped = false

    /// `serve` returns true when the client has more work now; `onExit` runs once at `stop` (on the thread, when
    /// it started).
    init(name: String, niceness: Int32 = 0, serve: @escaping (Client) -> Bool, onExit: @escaping () -> Void = {}) {
        self.name = name
        self.niceness = niceness
        self.serve = serve
        self.onExit = onExit
    }

    var clientCount: Int { cond.withLock { order.count } }

    /// Adds `client`, to be looked at at least every `pollSeconds`, and serves it soon.
    func register(_ client: Client, pollSeconds: Double) {
        let id = ObjectIdentifier(client)
        let start: Bool = cond.withLock {
            precondition(!stopping, "\(name): registration after shutdown")
            if clients.updateValue((client, pollSeconds), forKey: id) == nil { order.append(id) }
            self.pollSeconds = min(self.pollSeconds, pollSeconds)
            nextPoll = min(nextPoll, monotonicSeconds() + pollSeconds)
            markReady(id)
            cond.signal()
            defer { started = true }
            return !started
        }
        if start { spawnThread(name: name) { [self] in run() } }
    }

    func unregister(_ client: Client) {
        let id = ObjectIdentifier(client)
        cond.withLock {
            guard clients.removeValue(forKey: id) != nil else { return }
            order.removeAll { $0 == id }
            ready.removeAll { $0 == id }
            isReady.remove(id)
            pollSeconds = clients.values.map(\.pollSeconds).min() ?? .infinity
            while serving == id { cond.wait(seconds: 0.05) }
        }
    }

    /// Asks for `client` to be served soon.
    func wake(_ client: Client) {
        let id = ObjectIdentifier(client)
        cond.withLock {
            guard clients[id] != nil, !isReady.contains(id) else { return }
            markReady(id)
            cond.signal()
        }
    }

    /// Stops the thread after the serve in progress; the clients still registered are not served again.
    func stop() {
        let neverStarted: Bool = cond.withLock {
            let first = !stopping
            stopping = true
            cond.signal()
            while started && !stopped { cond.wait(seconds: 0.05) }
            return first && !started
        }
        if neverStarted { onExit() }
    }

    private func markReady(_ id: ObjectIdentifier) {
        if isReady.insert(id).inserted { ready.append(id) }
    }

    /// The clients to serve next, or nil when stopping.
    private func nextRound() -> [ObjectIdentifier]? {
        cond.withLock {
            while !stopping && ready.isEmpty {
                let left = nextPoll - monotonicSeconds()
                if left <= 0 { break }
                cond.wait(seconds: min(left, 3600))
            }
            if stopping { return nil }
            let now = monotonicSeconds()
            if now >= nextPoll {
                nextPoll = now + pollSeconds
                guard !order.isEmpty else { return [] }
                // A poll round: everyone, starting one further along each time.
                cursor = (cursor + 1) % order.count
                ready = []
                isReady = []
                return Array(order[cursor...] + order[..<cursor])
            }
            defer { ready = []; isReady = [] }
            return ready
        }
    }

    private func run() {
        if niceness != 0 {
            // On Linux the nice value is a thread's own, and `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        }
        while let round = nextRound() {
            for id in round {
                guard let client: Client = cond.withLock({
                    guard let entry = clients[id] else { return nil }
                    serving = id
                    return entry.client
                }) else { continue }
                let more = serve(client)
                cond.withLock {
                    serving = nil
                    if more && clients[id] != nil { markReady(id) }
                    cond.signal()
                }
            }
        }
        onExit()
        cond.withLock { stopped = true; cond.signal() }
    }
}

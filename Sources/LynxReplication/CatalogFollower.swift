#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import LynxCluster
import LynxEngine
import Synchronization

/// Keeps this node's collections the leader's: every half second it reads the leader's catalog, makes the
/// collections it lacks (with the leader's settings), drops the ones the leader no longer has, and has each
/// collection followed (`StoreFollower`). The default collection is followed from the start.
final class CatalogFollower: @unchecked Sendable {
    private let leader: PeerAddress
    private unowned let node: ClusterNode
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    static let periodSeconds = 0.5

    init(leader: PeerAddress, node: ClusterNode) {
        self.leader = leader
        self.node = node
    }

    func start() {
        spawnThread(name: "lynx-catalog") { [self] in
            let client = HTTPClient(connectTimeoutSeconds: 1)
            while !stopping.load(ordering: .relaxed) {
                do {
                    try sync(client)
                } catch {
                    node.logger.debug("reading the leader's catalog failed", metadata: ["error": "\(error)"])
                }
                let until = monotonicSeconds() + Self.periodSeconds
                while !stopping.load(ordering: .relaxed) && monotonicSeconds() < until { usleep(20_000) }
            }
            finished.signal()
        }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
    }

    private func sync(_ client: HTTPClient) throws {
        let response = try client.request("GET", leader.url + "/replication/catalog", headers: node.authHeaders, timeoutSeconds: 5)
        guard response.status == 200 else { return }
        let catalog = try Catalog.decode(response.body)
        let wanted = Dictionary(uniqueKeysWithValues: catalog.entries.map { ($0.name, $0.settings) })
        for (name, engine) in node.database.collections where name != .default {
            if let settings = wanted[name], engine.storedSettings.matches(settings) { continue }
            // Gone from the leader, or made anew there with other settings.
            node.stopFollowing(name)
            node.histories.forget(name)
            try node.database.delete(name)
            node.logger.notice("collection dropped as on the leader", metadata: ["collection": "\(name)"])
        }
        for entry in catalog.entries {
            if node.database.engine(entry.name) == nil {
                _ = try node.database.create(entry.name, entry.settings.creationSettings)
                node.logger.notice("collection made as on the leader", metadata: ["collection": "\(entry.name)"])
            }
            if stopping.load(ordering: .relaxed) { return }
            node.startFollowing(entry.name, leader)
        }
    }
}

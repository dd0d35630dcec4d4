import LynxCluster
import LynxEngine
import LynxStorage
import LynxSupport

/// Keeps this node's collections the leader's: every half second it reads the leader's catalog, makes the
/// collections it lacks (with the leader's settings and store ids), drops the ones the leader no longer has (or
/// has made anew: another store id), and has each
/// collection followed (`StoreFollower`). The default collection is followed from the start.
final class CatalogFollower: @unchecked Sendable {
    private let leader: PeerAddress
    private unowned let node: ClusterNode
    /// Held while collections are made or dropped.
    private let fence = FollowerFence()
    static let periodSeconds = 0.5

    init(leader: PeerAddress, node: ClusterNode) {
        self.leader = leader
        self.node = node
    }

    func start() {
        spawnThread(name: "lynx-catalog") { [self] in
            let client = HTTPClient(connectTimeoutSeconds: 1)
            while !fence.isStopped {
                do {
                    try sync(client)
                } catch {
                    node.logger.debug("reading the leader's catalog failed", metadata: ["error": "\(error)"])
                }
                fence.pause(Self.periodSeconds)
            }
        }
    }

    /// Once this returns the catalog follower changes no collection any more.
    func stop() { fence.stop() }

    private func sync(_ client: HTTPClient) throws {
        let response = try client.request("GET", leader.url + "/replication/catalog", headers: node.authHeaders,
                                          timeoutSeconds: StoreFollower.requestTimeoutSeconds)
        guard response.status == 200 else { return }
        let catalog = try Catalog.decode(response.body)
        try fence.unlessStopped { try apply(catalog) }
    }

    private func apply(_ catalog: Catalog) throws {
        let wanted = Dictionary(uniqueKeysWithValues: catalog.entries.map { ($0.name, $0) })
        for (name, engine) in node.database.collections where name != .default {
            if let entry = wanted[name], entry.storeID == engine.storeID, engine.storedSettings == entry.settings { continue }
            // Gone from the leader, or made anew there (another store id).
            node.stopFollowing(name)
            try node.database.delete(name, replicating: true)
            node.logger.notice("collection dropped as on the leader", metadata: ["collection": "\(name)"])
        }
        for entry in catalog.entries {
            if node.database.engine(entry.name) == nil {
                _ = try node.database.create(entry.name, entry.settings.creationSettings, storeID: entry.storeID)
                node.logger.notice("collection made as on the leader", metadata: ["collection": "\(entry.name)"])
            }
            if fence.isStopped { return }
            node.startFollowing(entry.name, leader)
        }
    }
}

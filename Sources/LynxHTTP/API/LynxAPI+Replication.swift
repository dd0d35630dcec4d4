import LynxEngine
import LynxJSON
import LynxReplication
import LynxTransport

/// The cluster's routes (`GET /replication`, `/replication/catalog`, `/replication/log`; docs/REPLICATION.md). A
/// node that does not lead refuses client writes in its stores (`WriteGate`, installed by `ClusterNode`); when a
/// leader acknowledges a write is `WriteAcknowledger`'s.
extension LynxAPI {
    /// `GET /replication/log` (and its collection twin): the leader's log after `after`.
    static func replicationLog(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        let log = try RequestDecoder.logRequest(request)
        guard let cluster = api.cluster else { throw Problem.notInCluster }
        let store = captures.values["collection"].flatMap { CollectionName(String($0)) } ?? .default
        return .later { complete in
            cluster.serveLog(log, engine: engine) { answer in
                switch answer {
                case .batch(let bytes):
                    complete(HTTPResponse(status: 200, contentType: ReplicationBatch.mediaType, body: bytes))
                case .snapshotNeeded, .diverged:
                    // Their wire form is LogAnswer's own (the follower reads it back): refusal(to:) is never nil here.
                    complete(Problem(answer.refusal(to: log)!).response)
                case .notLeader(let leader):
                    complete((leader.map { Problem.notLeader(node: cluster.config.nodeName, leader: $0) }
                              ?? .noLeader(node: cluster.config.nodeName)).response)
                case .storeGone:
                    complete(Problem.collectionNotFound(store).response)
                case .invalid(let why):
                    complete(Problem.invalidRequest(why, field: "after").response)
                case .failed(let why):
                    complete(Problem.internalError(why).response)
                }
            }
        }
    }

    /// `GET /replication/catalog`: the leader's collections and their settings.
    static func replicationCatalog(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        guard let cluster = api.cluster, let body = cluster.catalog() else {
            if let cluster = api.cluster, let leader = cluster.leader, cluster.currentRole == .follower {
                throw Problem.notLeader(node: cluster.config.nodeName, leader: leader)
            }
            throw api.cluster.map { Problem.noLeader(node: $0.config.nodeName) } ?? Problem.notInCluster
        }
        return .now(HTTPResponse(status: 200, body: body))
    }

    /// `GET /replication`: this node's role, term and leader, each store's position and lag, and (on a leader)
    /// what each follower acknowledged.
    static func replicationStatus(_ api: LynxAPI, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let cluster = api.cluster
        let all = api.database.collections
        return .now(Responses.object { w in
            w.key("node"); if let cluster { w.string(cluster.config.nodeName) } else { w.null() }
            w.key("role"); w.string(cluster?.currentRole.rawValue ?? "single")
            w.key("term"); w.uint64(cluster?.term ?? 0)
            w.key("leader"); writeLeader(cluster?.leader, to: &w)
            w.key("mode")
            if case .sync(let k)? = cluster?.config.mode { w.string("sync"); w.key("sync_replicas"); w.int(k) } else { w.string("async") }
            w.key("stores"); w.beginArray()
            for (name, engine) in all {
                let replica = cluster?.replicaStatus(name) ?? StoreReplicaStatus()
                w.beginObject()
                w.key("collection"); if name == .default { w.null() } else { w.string(name.value) }
                w.key("last_lsn"); w.uint64(engine.lastLSN)
                w.key("durable_lsn"); w.uint64(engine.durableLSN)
                w.key("lag_frames"); w.uint64(replica.lagFrames)
                w.key("lag_seconds"); w.double((replica.lagSeconds * 1000).rounded() / 1000)
                w.key("discarded_frames"); w.uint64(replica.discardedFrames)
                w.key("bootstraps"); w.int(replica.bootstraps)
                w.key("applied_frames"); w.uint64(replica.appliedFrames)
                w.endObject()
            }
            w.endArray()
            w.key("followers"); w.beginArray()
            if let cluster, cluster.currentRole == .leader {
                var acked: [String: [(String, UInt64)]] = [:]
                for (name, engine) in all {
                    for a in cluster.acknowledgements(engine: engine) { acked[a.node, default: []].append((name.value, a.durable)) }
                }
                for (node, stores) in acked.sorted(by: { $0.key < $1.key }) {
                    w.beginObject()
                    w.key("node"); w.string(node)
                    w.key("acked"); w.beginObject()
                    for (store, lsn) in stores { w.key(store); w.uint64(lsn) }
                    w.endObject()
                    w.endObject()
                }
            }
            w.endArray()
        })
    }

    static func writeLeader(_ leader: PeerAddress?, to w: inout JSONWriter) {
        guard let leader else { return w.null() }
        w.beginObject()
        w.key("node"); w.string(leader.node)
        w.key("url"); w.string(leader.url)
        w.endObject()
    }

    /// `/health`'s `replication` member (with `--etcd-endpoints` only).
    func writeReplicationHealth(to w: inout JSONWriter) {
        guard let cluster else { return }
        let lag = database.collections.map { cluster.replicaStatus($0.name)?.lagFrames ?? 0 }.max() ?? 0
        w.key("replication"); w.beginObject()
        w.key("role"); w.string(cluster.currentRole.rawValue)
        w.key("term"); w.uint64(cluster.term)
        w.key("leader"); Self.writeLeader(cluster.leader, to: &w)
        w.key("lag"); w.uint64(lag)
        w.endObject()
    }
}

import LynxEngine
import LynxReplication

extension MetricsExposition {
    /// The replication families (with `--etcd-endpoints` only): role, term, and per store the lag behind the
    /// leader, the frames discarded after a divergence and the bootstraps; on a leader each follower's
    /// acknowledged LSN.
    static func replication(_ cluster: ClusterNode, collections: [(name: CollectionName, engine: Engine)], to out: inout PrometheusText) {
        let role = cluster.currentRole
        out.gauge("lynx_replication_role", "1 for this node's current role in the cluster.",
                  [NodeRole.leader, .follower, .candidate].map { (["role"], [$0.rawValue], $0 == role ? 1 : 0) })
        out.gauge("lynx_replication_term", "The term this node leads or follows (the leader key's create revision in etcd).",
                  [([], [], Double(cluster.term))])
        let stores = collections.map { ($0.name, $0.engine, cluster.replicaStatus($0.name) ?? StoreReplicaStatus()) }
        out.gauge("lynx_replication_lag_frames", "Frames the leader had durable that this store had not yet applied (0 on the leader).",
                  stores.map { (["collection"], [$0.0.value], Double($0.2.lagFrames)) })
        out.gauge("lynx_replication_lag_seconds", "Seconds since this store last held everything its leader had durable (0 when it does).",
                  stores.map { (["collection"], [$0.0.value], $0.2.lagSeconds) })
        out.header("lynx_replication_applied_frames_total", "counter", "Frames received from the leader and applied.")
        for s in stores { out.sample("lynx_replication_applied_frames_total", [("collection", s.0.value)], Double(s.2.appliedFrames)) }
        out.header("lynx_replication_discarded_frames_total", "counter",
                   "Frames of this store's log discarded because the leader's history did not have them.")
        for s in stores { out.sample("lynx_replication_discarded_frames_total", [("collection", s.0.value)], Double(s.2.discardedFrames)) }
        out.header("lynx_replication_bootstraps_total", "counter", "Times this store started over from the leader's snapshot.")
        for s in stores { out.sample("lynx_replication_bootstraps_total", [("collection", s.0.value)], Double(s.2.bootstraps)) }
        out.header("lynx_replication_follower_acked_lsn", "gauge", "On the leader: the durable LSN each follower last reported, per store.")
        if role == .leader {
            for s in stores {
                for a in cluster.acknowledgements(engine: s.1) {
                    out.sample("lynx_replication_follower_acked_lsn", [("collection", s.0.value), ("node", a.node)], Double(a.durable))
                }
            }
        }
    }
}

import LynxEngine
import LynxJSON
import LynxReplication

extension WriteRefusal {
    /// 421 `not-leader` naming the leader, or 503 `no-leader` while none is known.
    package var problem: Problem {
        if let leaderNode, let leaderURL { return .notLeader(node: node, leader: PeerAddress(node: leaderNode, url: leaderURL)) }
        return .noLeader(node: node)
    }
}

/// The problems of a cluster (docs/REPLICATION.md).
extension Problem {
    static func leaderMember(_ leader: PeerAddress) -> (String, JSONValue) {
        ("leader", .object(JSONObject(members: [("node", .string(leader.node)), ("url", .string(leader.url))])))
    }

    /// 421: this node follows `leader`; the request is the leader's to serve.
    static func notLeader(node: String, leader: PeerAddress) -> Problem {
        var p = Problem(status: 421, slug: "not-leader", title: "Not the leader",
                        detail: "this node (\(node)) follows \(leader.node); send writes to \(leader.url)")
        p.extra = [leaderMember(leader)]
        return p
    }

    /// 421: the replication routes on a single node.
    static let notInCluster = Problem(status: 421, slug: "not-leader", title: "Not the leader",
                                      detail: "this node is not in a cluster (it runs without --etcd-endpoints)")

    /// 503: no leader is known (an election is under way).
    static func noLeader(node: String) -> Problem {
        var p = Problem(status: 503, slug: "no-leader", title: "No leader",
                        detail: "this node (\(node)) knows no leader: an election is under way; retry")
        p.headers = [("Retry-After", "1")]
        return p
    }

    /// 503: the write is in this node's log but it may no longer acknowledge writes.
    static func leadershipLost(node: String, lsn: UInt64) -> Problem {
        var p = Problem(status: 503, slug: "not-leader", title: "Not the leader",
                        detail: "this node (\(node)) lost its leadership lease; the write (lsn \(lsn)) was not acknowledged and is discarded if the new leader lacks it")
        p.extra = [("lsn", .number(JSONNumber(lsn)))]
        p.headers = [("Retry-After", "1")]
        return p
    }

    static func replicationTimeout(lsn: UInt64, replicas: Int, seconds: Double) -> Problem {
        var p = Problem(status: 503, slug: "replication-timeout", title: "Replication timeout",
                        detail: "lsn \(lsn): fewer than \(replicas) followers reported it durable within \(seconds) s; it stays in the leader's log")
        p.extra = [("lsn", .number(JSONNumber(lsn)))]
        return p
    }

    /// A refusal of the log route that the follower acts on (`LogAnswer.refusal`).
    init(_ refusal: LogRefusal) {
        self.init(status: refusal.status, slug: refusal.slug, title: refusal.title, detail: refusal.detail)
        extra = refusal.members
    }
}

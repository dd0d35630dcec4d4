import LynxEngine

/// What a client is told of a write that is in the store's log.
public enum Acknowledgement: Sendable, Equatable {
    /// Done: `durable` says whether it is fdatasync'd (and, under `--replication sync`, on the followers too).
    case acknowledged(durable: Bool)
    /// Applied, but the log could not be made durable (the store stopped taking writes).
    case notDurable(EngineError)
    /// `--replication sync`: fewer than `replicas` followers reported it durable within `seconds`; it stays in the
    /// leader's log.
    case replicationTimeout(replicas: Int, seconds: Double)
    /// This node (`node`) may no longer acknowledge writes (its lease may have expired); the write is discarded if
    /// the next leader lacks it.
    case leadershipLost(node: String)
}

/// What a client's write waits for before it is acknowledged, at the least: `--sync always` makes every write wait
/// until durable, and `--replication sync` until enough followers have it too.
public enum WriteWait: Sendable, Equatable {
    /// In the log (page cache) and applied.
    case applied
    /// fdatasync'd (`?durable=true`).
    case durable
}

/// When an acknowledgement is known: at once, or later through a callback (the edge suspends the request meanwhile,
/// so no thread waits).
public enum AcknowledgementWait: Sendable {
    case decided(Acknowledgement)
    /// Call with the completion; it runs once, on a commit or replication thread.
    case pending(@Sendable (_ done: @escaping @Sendable (Acknowledgement) -> Void) -> Void)
}

/// The one place that decides when a write may be acknowledged and what the acknowledgement says: durability
/// (`durable=true`, `--sync always`), replication (`--replication sync`) and fencing (a leader acknowledges only
/// while its lease is surely held; docs/REPLICATION.md). The edge maps the `Acknowledgement` to its answer.
///
/// Threads: any.
public final class WriteAcknowledger: Sendable {
    private let cluster: ClusterNode?

    /// `cluster`: this node's place in a cluster; nil for a single node.
    public init(cluster: ClusterNode?) {
        self.cluster = cluster
    }

    /// The one call for a client's write: applies it to the store (which refuses it itself on a follower, with
    /// `EngineError.writeRefused`) and says when it may be acknowledged. Throws what the store throws; nothing is
    /// written then. A write with nothing to wait for (`acknowledgedAtOnce`) is acknowledged at once, not durable.
    public func write(_ write: StoreWrite, to engine: Engine, wait: WriteWait) throws -> (result: StoreWriteResult, ack: AcknowledgementWait) {
        let result = try engine.write(write)
        guard !result.acknowledgedAtOnce else { return (result, .decided(.acknowledged(durable: false))) }
        return (result, acknowledge(engine, lsn: result.lsn, durable: wait == .durable))
    }

    /// The acknowledgement of the write that ended at `lsn` of the store; `durable`: the client asked to wait
    /// until it is durable.
    func acknowledge(_ engine: Engine, lsn: UInt64, durable: Bool) -> AcknowledgementWait {
        if let cluster, case .sync(let replicas) = cluster.config.mode {
            return .pending { done in
                engine.whenDurable(lsn) { result in
                    if case .failure(let error) = result { return done(.notDurable(error)) }
                    cluster.whenReplicated(engine: engine, lsn: lsn) { replicated in
                        // A wait ended by stepping down is a lost leadership, not a slow follower.
                        guard replicated || !cluster.mayAcknowledge() else {
                            return done(.replicationTimeout(replicas: replicas, seconds: cluster.config.syncTimeoutSeconds))
                        }
                        done(self.fenced(.acknowledged(durable: true)))
                    }
                }
            }
        }
        guard durable || engine.acknowledgesDurableOnly else { return .decided(fenced(.acknowledged(durable: false))) }
        return .pending { done in
            engine.whenDurable(lsn) { result in
                switch result {
                case .success: done(self.fenced(.acknowledged(durable: true)))
                case .failure(let error): done(.notDurable(error))
                }
            }
        }
    }

    /// `ack`, as long as this node may still acknowledge writes (always, for a single node).
    private func fenced(_ ack: Acknowledgement) -> Acknowledgement {
        guard let cluster, !cluster.mayAcknowledge() else { return ack }
        return .leadershipLost(node: cluster.config.nodeName)
    }
}

/// Who may call a method of a route (`AccessPolicy`): the live probe is open to all, the other probes to all unless
/// `--auth-metrics`, reads to either key, writes to the full key only.
enum RouteAccess: Equatable, Sendable {
    case open, probe, read, write
}

/// The policy of one method of a route, stated beside its handler in the route table, so that a route added later
/// cannot be served without saying who may call it and whether a follower serves it.
struct RoutePolicy: Equatable, Sendable {
    let access: RouteAccess
    /// A write that a follower serves on its own copy (it changes no record: flush, checkpoint, rebuild, backups);
    /// every other write is the leader's (`LynxAPI.clusterRefusal`).
    let followerServes: Bool

    static let open = RoutePolicy(access: .open, followerServes: false)
    static let probe = RoutePolicy(access: .probe, followerServes: false)
    static let read = RoutePolicy(access: .read, followerServes: false)
    static let write = RoutePolicy(access: .write, followerServes: false)
    /// A write a follower serves too, on its own copy.
    static let localWrite = RoutePolicy(access: .write, followerServes: true)
}

/// Who may call a method of a route (`AccessPolicy`), stated beside its handler in the route table, so that a
/// route added later cannot be served without saying it: the live probe is open to all, the other probes to all
/// unless `--auth-metrics`, reads to either key, writes to the full key only. (Whether this node takes writes at
/// all is its stores' own check, `WriteGate`.)
package enum RouteAccess: Equatable, Sendable {
    case open, probe, read, write
}

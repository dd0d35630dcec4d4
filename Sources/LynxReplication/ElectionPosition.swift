import LynxJSON

/// How far one store of a node is: the term that wrote its last frame, then its last LSN.
public struct StorePosition: Sendable, Comparable {
    public var term: UInt64
    public var lsn: UInt64

    public init(term: UInt64, lsn: UInt64) {
        self.term = term
        self.lsn = lsn
    }

    /// A newer last term is further whatever the LSNs: one term has one leader, which wrote its LSNs once on top of
    /// what it had; a longer log of an older term holds frames no later leader took (docs/REPLICATION.md).
    public static func < (a: StorePosition, b: StorePosition) -> Bool {
        (a.term, a.lsn) < (b.term, b.lsn)
    }
}

/// How far a node's stores are, as the election compares nodes (docs/REPLICATION.md, "Choosing the leader"), keyed
/// by store id (a store a node lacks is at term 0, LSN 0).
public struct ElectionPosition: Sendable, Equatable {
    public var stores: [UInt64: StorePosition]

    public init(stores: [UInt64: StorePosition]) {
        self.stores = stores
    }

    /// The newest term that wrote any of the node's stores' last frames.
    public var newestTerm: UInt64 { stores.values.map(\.term).max() ?? 0 }

    /// Whether this node is a better leader than `other`: it holds frames of a newer term (the writes the newest
    /// leader acknowledged), or, with the same newest term, it is at least as far on every store and further on
    /// one. Nodes where neither is ahead (each further on a store of its own) are not ordered: either may lead.
    public func isAhead(of other: ElectionPosition) -> Bool {
        let (mine, theirs) = (newestTerm, other.newestTerm)
        if mine != theirs { return mine > theirs }
        var further = false
        for id in Set(stores.keys).union(other.stores.keys) {
            let a = stores[id] ?? StorePosition(term: 0, lsn: 0), b = other.stores[id] ?? StorePosition(term: 0, lsn: 0)
            if a < b { return false }
            if b < a { further = true }
        }
        return further
    }

    /// As published under `nodes/`: `[{"store": id, "term": t, "lsn": l}, ...]`, in store id order.
    public func write(to w: inout JSONWriter) {
        w.beginArray()
        for (id, p) in stores.sorted(by: { $0.key < $1.key }) {
            w.beginObject()
            w.key("store"); w.uint64(id)
            w.key("term"); w.uint64(p.term)
            w.key("lsn"); w.uint64(p.lsn)
            w.endObject()
        }
        w.endArray()
    }

    /// Reads what `write` wrote; nil for anything else (a node of an older release publishes a number: it is
    /// not read, so it never holds a newer node back).
    public init?(_ value: JSONValue) {
        guard case .array(let items) = value else { return nil }
        var stores: [UInt64: StorePosition] = [:]
        for item in items {
            guard let o = item.objectValue, let id = o["store"]?.numberValue?.uint64, let term = o["term"]?.numberValue?.uint64,
                  let lsn = o["lsn"]?.numberValue?.uint64 else { return nil }
            stores[id] = StorePosition(term: term, lsn: lsn)
        }
        self.stores = stores
    }
}

/// The identity of a store: a random non-zero 64-bit number drawn when the store is created (its `MANIFEST`
/// keeps it), and never again. A store deleted and made anew under the same name has another id, so nothing that
/// remembers a store (a follower's acknowledgement, a term history, a copy on another node) can take the new one
/// for the old. Copies of a store (a follower's, a restored backup) carry the id of the store they copy.
public struct StoreID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    /// nil for 0, which stands for "no id" on the wire.
    public init?(rawValue: UInt64) {
        guard rawValue != 0 else { return nil }
        self.rawValue = rawValue
    }

    public static func random() -> StoreID { StoreID(rawValue: UInt64.random(in: 1...UInt64.max))! }

    /// Decimal, as the manifest, the term history and the replication wire write it.
    public var description: String { String(rawValue) }
}

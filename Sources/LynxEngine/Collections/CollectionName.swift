/// A collection's name: 1 to 64 of `A-Z a-z 0-9 _ -`. Such a name is also a safe directory name, never `.`-led,
/// so it cannot collide with the catalog's own entries.
public struct CollectionName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String

    public static let maxLength = 64
    /// The collection the single-store routes and the start-up flags refer to.
    public static let `default` = CollectionName(valid: "default")

    public init?(_ text: String) {
        guard Self.isValid(text) else { return nil }
        value = text
    }

    private init(valid: String) { value = valid }

    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    public var description: String { value }
    public static func < (a: CollectionName, b: CollectionName) -> Bool { a.value < b.value }
}

/// Errors raised while decoding a binary structure (`BinaryReader`, and the index layouts read with it).
public enum BinaryDecodingError: Error, Equatable, CustomStringConvertible {
    /// The input ended early: `needed` more bytes at `offset`, only `available` left.
    case truncated(offset: Int, needed: Int, available: Int)
    /// Magic number of an unknown structure.
    case badMagic(found: UInt32)
    /// A known structure of a version this build cannot read.
    case unsupportedVersion(kind: String, version: UInt32)
    /// Structurally invalid content (inconsistent counts, out-of-range links, ...).
    case corrupt(String)

    public var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            return "truncated data: need \(needed) bytes at offset \(offset), only \(available) left"
        case let .badMagic(found):
            return "not a Lynx structure (magic 0x\(String(found, radix: 16)))"
        case let .unsupportedVersion(kind, version):
            return "unsupported \(kind) format version \(version)"
        case let .corrupt(why):
            return "corrupt data: \(why)"
        }
    }
}

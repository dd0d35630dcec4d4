/// Why a document is not valid JSON, and where.
///
/// `offset` is the 0-based byte offset into the input at which the problem was detected;
/// `message` is short and human-readable; `description` combines both, e.g.
/// `invalid literal 'NaN' at byte 17`.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Not JSON under RFC 8259 (or past a limit of the parser, such as its nesting depth).
        case syntax
        /// Valid JSON, but a number whose magnitude overflows `Double` (RFC 8259 §6 lets a parser refuse it).
        case numberOutOfRange
    }

    public let offset: Int
    public let message: String
    public let kind: Kind
    /// For `.numberOutOfRange` from `JSONParser`: where the number sits, as the API names fields
    /// (`vectors[3].vector[0]`, `metadata.price`); empty for a number at the top level or from `JSONReader`.
    public internal(set) var path = ""

    public init(offset: Int, message: String, kind: Kind = .syntax) {
        self.offset = offset
        self.message = message
        self.kind = kind
    }

    public var description: String { "\(message) at byte \(offset)" }

    /// The error as seen from the container holding the value it came from, under `key` (an object member) or
    /// at `index` (an array element). Only a number out of range carries its path: other errors are reported by
    /// offset, and building paths on their way out would cost for nothing.
    func inside(key: String) -> JSONParseError {
        guard kind == .numberOutOfRange else { return self }
        var outer = self
        outer.path = path.isEmpty ? key : path.first == "[" ? key + path : key + "." + path
        return outer
    }

    func inside(index: Int) -> JSONParseError {
        guard kind == .numberOutOfRange else { return self }
        var outer = self
        outer.path = path.isEmpty || path.first == "[" ? "[\(index)]" + path : "[\(index)]." + path
        return outer
    }
}

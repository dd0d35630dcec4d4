/// Why a document is not valid JSON, and where.
///
/// `offset` is the 0-based byte offset into the input at which the problem was detected;
/// `message` is short and human-readable; `description` combines both, e.g.
/// `invalid literal 'NaN' at byte 17`.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let offset: Int
    public let message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) at byte \(offset)" }
}

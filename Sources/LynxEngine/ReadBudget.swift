/// The most bytes one read may copy out of the store for its answer: vectors at 4 bytes a number and metadata
/// as its JSON text. Counted as the answer is made, so a read past it stops there (`EngineError.readTooLarge`)
/// instead of holding all it asked for.
public struct ReadBudget: Sendable {
    public let limit: Int
    private var used = 0

    public init(limit: Int) { self.limit = limit }

    /// No limit.
    public static let unlimited = ReadBudget(limit: .max)

    /// Counts one record's part of the answer.
    mutating func take(vector: [Float]?, metadata: Metadata?) throws(EngineError) {
        used += (vector?.count ?? 0) * MemoryLayout<Float>.size + (metadata?.json.count ?? 0)
        if used > limit { throw .readTooLarge(limit: limit) }
    }
}

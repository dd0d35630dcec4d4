import LynxEngine

/// What one read may make the server hold: the results a search may ask for (`--max-search-results`, queries
/// times `k`) and the bytes of an answer (`--max-response-bytes`: its JSON, and the vectors and metadata copied
/// out of the store to make it, `ReadBudget`). Past either the read gets a 422 and nothing else.
public struct ReadLimits: Sendable {
    public static let defaultMaxSearchResults = 100_000
    public static let defaultMaxResponseBytes = 64 << 20

    public var maxSearchResults = defaultMaxSearchResults
    public var maxResponseBytes = defaultMaxResponseBytes

    public init() {}

    /// The engine's share of `maxResponseBytes`.
    var budget: ReadBudget { ReadBudget(limit: maxResponseBytes) }
}

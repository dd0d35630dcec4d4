/// How an index stores a compact code of each vector beside the vector itself, to search on: the codes are
/// compared with the query during the graph traversal, and the best candidates are scored again exactly from the
/// full vectors (`SearchParams.rescore`).
///
///     none   no codes: every comparison uses the full vectors
///     sq8    one byte per dimension (`ScalarQuantizer`), fitted on the first `ScalarQuantizer.trainingSize` vectors
///
/// Its JSON form is an object, `{"type": "sq8"}`; the manifest and the catalog keep `type` under the key
/// `quantization`, absent for `none` (a store made before quantization existed has none).
public enum Quantization: String, CaseIterable, Sendable, Hashable {
    case none
    case sq8

    /// The value of the `type` member and of the manifest's `quantization` key.
    public var type: String { rawValue }

    /// The manifest's and the catalog's key.
    public static let key = "quantization"

    /// The indexes that can have codes (the others refuse any quantization but `none`).
    public static let indexes: [IndexKind] = [.hnsw]

    /// `sq8` and so on; nil for a type that does not exist.
    public init?(type: String) { self.init(rawValue: type) }

    /// Read from a manifest's or a catalog's parameters: absent means none.
    public init?(stored parameters: [String: String]) {
        guard let type = parameters[Self.key] else { self = .none; return }
        self.init(type: type)
    }

    /// The parameter lines a store with this quantization records (none for `none`).
    public var storedParameters: [String: String] { self == .none ? [:] : [Self.key: type] }
}

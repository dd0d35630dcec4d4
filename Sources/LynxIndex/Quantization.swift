/// How an index stores a compact code of each vector beside the vector itself, to search on: the codes are
/// compared with the query during the graph traversal, and the best candidates are scored again exactly from the
/// full vectors (`SearchParams.rescore`).
///
///     none         no codes: every comparison uses the full vectors
///     sq8          one byte per dimension (`ScalarQuantizer`)
///     rabitq:B     extended RaBitQ, B bits per dimension (1...8) of a randomly rotated residual (`RaBitQuantizer`)
///
/// Codes are fitted on the first `ScalarQuantizer.trainingSize` vectors and refitted on every vector by a rebuild.
///
/// One text form everywhere but JSON: `none`, `sq8`, `rabitq:4` (`text`) is the value of the manifest's and the
/// catalog's key `quantization` (absent for `none`: a store made before quantization existed has none), of
/// lynxd's `--quantization` and of lynx-bench's. Its JSON form is an object, `{"type": "sq8"}` or
/// `{"type": "rabitq", "bits": 4}`.
public enum Quantization: Sendable, Hashable {
    case none
    case sq8
    case rabitq(bits: Int)

    /// The value of the JSON `type` member: `none`, `sq8`, `rabitq`.
    public var type: String {
        switch self {
        case .none: return "none"
        case .sq8: return "sq8"
        case .rabitq: return "rabitq"
        }
    }

    /// The types, as an error lists them.
    public static let types = ["none", "sq8", "rabitq"]

    /// `none`, `sq8`, `rabitq:B`: the manifest's, the catalog's and the flags' form.
    public var text: String {
        if case .rabitq(let bits) = self { return "rabitq:\(bits)" }
        return type
    }

    /// The text forms, as an error lists them.
    public static let textForms = "none, sq8, rabitq:B (B in \(RaBitQuantizer.bitRange.lowerBound)...\(RaBitQuantizer.bitRange.upperBound))"

    /// The manifest's and the catalog's key.
    public static let key = "quantization"

    /// The indexes that can have codes (the others refuse any quantization but `none`).
    public static let indexes: [IndexKind] = [.hnsw]

    /// From the text form; nil for a type that does not exist or bits out of range.
    public init?(text: String) {
        switch text {
        case "none": self = .none
        case "sq8": self = .sq8
        default:
            guard text.hasPrefix("rabitq:"), let bits = Int(text.dropFirst("rabitq:".count)),
                  RaBitQuantizer.bitRange.contains(bits) else { return nil }
            self = .rabitq(bits: bits)
        }
    }

    /// Read from a manifest's or a catalog's parameters: absent means none.
    public init?(stored parameters: [String: String]) {
        guard let text = parameters[Self.key] else { self = .none; return }
        self.init(text: text)
    }

    /// The parameter lines a store with this quantization records (none for `none`).
    public var storedParameters: [String: String] { self == .none ? [:] : [Self.key: text] }

    /// Why a collection of `dimension` cannot have these codes, or nil when it can.
    public func refusal(dimension: Int) -> String? {
        guard case .rabitq = self, dimension > RaBitQuantizer.maxDimension else { return nil }
        return "rabitq is for dimensions up to \(RaBitQuantizer.maxDimension), not \(dimension)"
    }
}

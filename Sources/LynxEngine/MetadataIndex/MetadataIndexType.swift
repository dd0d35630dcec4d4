/// The kind of a metadata index: which values at its field it holds.
public enum MetadataIndexType: String, CaseIterable, Sendable {
    /// Strings.
    case keyword
    /// Integers (`FieldValue.int`), ordered exactly.
    case integer
    /// Numbers, integers and doubles alike.
    case float
    case bool

    /// Whether the index holds `value` (the scalar at its field, or one element of the array there).
    func holds(_ value: FieldValue) -> Bool {
        switch (self, value) {
        case (.keyword, .string), (.integer, .int), (.float, .int), (.float, .double), (.bool, .bool): return true
        default: return false
        }
    }

    /// Whether range conditions can walk the index's values in order.
    var isOrdered: Bool { self != .bool }

    /// The type's code in the log and in snapshots (docs/STORAGE_FORMATS.md).
    var code: UInt8 {
        switch self {
        case .keyword: return 1
        case .integer: return 2
        case .float: return 3
        case .bool: return 4
        }
    }

    init?(code: UInt8) {
        guard let type = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = type
    }
}

/// What `Engine.metadataIndexes` reports about one index.
public struct MetadataIndexInfo: Sendable, Equatable {
    public let path: FieldPath
    public let type: MetadataIndexType
    /// Records with at least one value of the index's type at the field.
    public let indexedRecords: Int
    /// Distinct values held.
    public let distinctValues: Int
    /// Records with a value of another type at the field (they join every candidate set, to be checked).
    public let otherRecords: Int

    public init(path: FieldPath, type: MetadataIndexType, indexedRecords: Int, distinctValues: Int, otherRecords: Int) {
        self.path = path
        self.type = type
        self.indexedRecords = indexedRecords
        self.distinctValues = distinctValues
        self.otherRecords = otherRecords
    }
}

extension FieldValue {
    /// An estimate of the heap the value holds beyond its own inline size (for memory reporting): array and
    /// object storage (a 32-byte header and the elements' strides) and strings too long to be stored inline
    /// (more than 15 UTF-8 bytes).
    var heapBytes: Int {
        switch self {
        case .null, .bool, .int, .double: return 0
        case .string(let s): return Self.heapBytes(s)
        case .array(let elements):
            return 32 + elements.count * MemoryLayout<FieldValue>.stride + elements.reduce(0) { $0 + $1.heapBytes }
        case .object(let members):
            return 32 + members.count * MemoryLayout<(key: String, value: FieldValue)>.stride
                + members.reduce(0) { $0 + Self.heapBytes($1.key) + $1.value.heapBytes }
        }
    }

    private static func heapBytes(_ s: String) -> Int { s.utf8.count > 15 ? 32 + s.utf8.count + 1 : 0 }
}

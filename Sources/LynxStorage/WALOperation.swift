/// One logged operation. The storage layer treats vectors and metadata as plain values and bytes.
public enum WALOperation: Equatable, Sendable {
    /// Insert or replace `id`. `metadata` is opaque bytes (may be empty).
    case upsert(id: UInt64, vector: [Float], metadata: [UInt8])
    case delete(id: UInt64)

    /// The id the operation is about.
    public var id: UInt64 {
        switch self {
        case .upsert(let id, _, _): return id
        case .delete(let id): return id
        }
    }
}

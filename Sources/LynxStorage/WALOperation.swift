/// One logged operation. The storage layer treats vectors, metadata and field paths as plain values and bytes.
public enum WALOperation: Equatable, Sendable {
    /// Insert or replace `id`. `metadata` is opaque bytes (may be empty).
    case upsert(id: UInt64, vector: [Float], metadata: [UInt8])
    case delete(id: UInt64)
    /// Create an index over the metadata field at `path` (member names from the top level down); `type` is the
    /// engine's code for the kind of index, opaque here.
    case createMetadataIndex(path: [String], type: UInt8)
    case dropMetadataIndex(path: [String])

    /// The record the operation is about (nil for operations on the store's metadata indexes).
    public var id: UInt64? {
        switch self {
        case .upsert(let id, _, _): return id
        case .delete(let id): return id
        case .createMetadataIndex, .dropMetadataIndex: return nil
        }
    }
}

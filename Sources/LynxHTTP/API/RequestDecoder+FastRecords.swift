import LynxEngine
import LynxJSON

/// The fast path of `POST /vectors`: reads a well-formed record or batch straight from the body bytes, vectors
/// into `[Float]` without a `JSONValue` tree (the tree cost about a fifth of the server's CPU per single-record
/// write). It accepts exactly the bodies the tree decoder (`records(_:)`) accepts, with the same result; on
/// anything else it returns nil and the caller runs the tree decoder, which then reports the precise error.
/// A rule added to `records(_:)` that rejects a body must be added here too (declining is enough: return nil);
/// Tests/integration/test_ingest_decoding.py checks that declined bodies get the tree decoder's errors.
extension RequestDecoder {
    package func fastRecords(_ body: [UInt8], dimensionHint: Int) -> DecodedRecords? {
        do {
            return try JSONReader.read(body, maxDepth: 64) { (r: inout JSONReader) throws(JSONParseError) -> DecodedRecords? in
                guard try r.beginObject(), let firstKey = try r.nextKey() else { return nil }
                var records: [VectorRecord]
                if firstKey == "vectors" {
                    guard let batch = try batchRecords(&r, dimensionHint: dimensionHint),
                          try r.nextKey() == nil else { return nil }
                    records = batch
                } else {
                    guard let record = try Self.fastRecord(&r, firstKey: firstKey, dimensionHint: dimensionHint) else {
                        return nil
                    }
                    records = [record]
                }
                try r.end()
                return DecodedRecords(records: records, isBatch: firstKey == "vectors")
            }
        } catch {
            return nil
        }
    }

    /// The array of a batch (the reader is at it): non-empty, within `maxBatch`, ids unique.
    private func batchRecords(_ r: inout JSONReader, dimensionHint: Int) throws(JSONParseError) -> [VectorRecord]? {
        guard try r.beginArray() else { return nil }
        var records: [VectorRecord] = []
        var seen = Set<UInt64>()
        while try r.nextElement() {
            guard records.count < maxBatch, try r.beginObject(), let firstKey = try r.nextKey(),
                  let record = try Self.fastRecord(&r, firstKey: firstKey, dimensionHint: dimensionHint),
                  seen.insert(record.id).inserted
            else { return nil }
            records.append(record)
        }
        return records.isEmpty ? nil : records
    }

    /// The members of one record object whose first key has been read; consumes its closing brace.
    private static func fastRecord(_ r: inout JSONReader, firstKey: String, dimensionHint: Int) throws(JSONParseError) -> VectorRecord? {
        var id: UInt64?
        var vector: [Float]?
        var metadata: Metadata?
        var sawMetadata = false
        var key: String? = firstKey
        while let k = key {
            switch k {
            case "id":
                guard id == nil, case .number(let n) = try r.value(), let value = n.wholeUInt64 else { return nil }
                id = value
            case "vector":
                guard vector == nil else { return nil }
                var v: [Float] = []
                v.reserveCapacity(dimensionHint)
                guard try r.floatArray(into: &v) else { return nil }
                vector = v
            case "metadata":
                guard !sawMetadata else { return nil }
                sawMetadata = true
                switch try r.value() {
                case .null: metadata = nil
                case .object(let m) where depth(.object(m)) <= maxMetadataDepth: metadata = Metadata(m)
                default: return nil
                }
            default:
                return nil
            }
            key = try r.nextKey()
        }
        guard let id, let vector else { return nil }
        return VectorRecord(id: id, vector: vector, metadata: metadata)
    }
}

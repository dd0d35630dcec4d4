import LynxIndex

/// The engine's sections inside a snapshot file (the file's framing and checksums are LynxStorage's;
/// docs/WAL.md documents both). All integers little-endian.
///
/// - tag 1 `meta`: UTF-8 `key=value` lines: `dimension`, `metric`, `index` (checked against the manifest).
/// - tag 2 `index`: the index's own serialization (docs/INDEXES.md), vectors included.
/// - tag 3 `metadata`: u64 count, then per record: u64 id, u32 length, that many bytes of compact JSON.
enum SnapshotCodec {
    static let metaTag: UInt32 = 1
    static let indexTag: UInt32 = 2
    static let metadataTag: UInt32 = 3

    static func encode(_ state: StoreState, dimension: Int, metric: Metric, kind: IndexKind) -> [(tag: UInt32, bytes: [UInt8])] {
        let meta = Array("dimension=\(dimension)\nmetric=\(metric.rawValue)\nindex=\(kind.rawValue)\n".utf8)
        var index = BinaryWriter(reservingCapacity: state.index.count * (dimension * 4 + 16) + 64)
        state.index.serialize(into: &index)
        var metadata = BinaryWriter(reservingCapacity: state.metadataBytes + state.metadata.count * 12 + 8)
        metadata.write(UInt64(state.metadata.count))
        for (id, value) in state.metadata.sorted(by: { $0.key < $1.key }) {
            metadata.write(id)
            metadata.write(UInt32(value.json.count))
            metadata.write(contentsOf: value.json)
        }
        return [(metaTag, meta), (indexTag, index.bytes), (metadataTag, metadata.bytes)]
    }

    static func decode(_ sections: [(tag: UInt32, bytes: [UInt8])], dimension: Int, metric: Metric, kind: IndexKind, config: EngineConfig) throws -> StoreState {
        func section(_ tag: UInt32) throws -> [UInt8] {
            guard let s = sections.first(where: { $0.tag == tag }) else {
                throw EngineError.internalError("snapshot lacks section \(tag)")
            }
            return s.bytes
        }
        let meta = String(decoding: try section(metaTag), as: UTF8.self)
        let expected = "dimension=\(dimension)\nmetric=\(metric.rawValue)\nindex=\(kind.rawValue)\n"
        guard meta == expected else {
            throw EngineError.internalError("snapshot was written for \(meta.split(separator: "\n").joined(separator: ", ")), the manifest says \(expected.split(separator: "\n").joined(separator: ", "))")
        }
        var state = StoreState(index: try IndexFactory.decode(from: try section(indexTag), config: config))
        var reader = BinaryReader(try section(metadataTag))
        let count = try reader.readUInt64()
        for _ in 0..<count {
            let id = try reader.readUInt64()
            let length = try reader.readUInt32()
            let json = try reader.readUInt8s(count: Int(length))
            state.setMetadata(try Metadata(json: json), for: id)
        }
        return state
    }
}

import LynxIndex
import LynxStorage

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

    /// The sections of a snapshot of `state`, produced on demand into the snapshot file (see `StreamedSection`):
    /// no whole-store buffer. `state` is an immutable capture, so a section produced again emits the same bytes.
    /// The vectors' row chunks go to `rowSink` (the data directory's chunk files) when one is given.
    static func streamedSections(_ state: StoreState, dimension: Int, metric: Metric, kind: IndexKind,
                                 rowSink: (any RowChunkSink)? = nil) -> [StreamedSection] {
        let meta = Array("dimension=\(dimension)\nmetric=\(metric.rawValue)\nindex=\(kind.rawValue)\n".utf8)
        let sortedMetadata = state.metadata.sorted(by: { $0.key < $1.key })
        return [
            StreamedSection(tag: metaTag) { emit in try meta.withUnsafeBytes { try emit($0) } },
            StreamedSection(tag: indexTag) { emit in
                try streaming(emit) { w in
                    w.rowSink = rowSink
                    state.index.serialize(into: &w)
                }
            },
            StreamedSection(tag: metadataTag) { emit in
                try streaming(emit) { w in
                    w.write(UInt64(sortedMetadata.count))
                    for (id, value) in sortedMetadata {
                        w.write(id)
                        w.write(UInt32(value.json.count))
                        w.write(contentsOf: value.json)
                    }
                }
            },
        ]
    }

    /// Runs `body` with a `BinaryWriter` that streams into `emit`; rethrows the first error `emit` threw (the
    /// writer's sink cannot throw, so later pieces are dropped once one failed).
    private static func streaming(_ emit: (UnsafeRawBufferPointer) throws -> Void,
                                  _ body: (inout BinaryWriter) -> Void) throws {
        try withoutActuallyEscaping(emit) { emit in
            var failure: Error?
            var w = BinaryWriter(streamingTo: { piece in
                guard failure == nil else { return }
                do { try emit(piece) } catch { failure = error }
            })
            body(&w)
            w.flush()
            if let failure { throw failure }
        }
    }

    static func decode(_ sections: [(tag: UInt32, bytes: [UInt8])], dimension: Int, metric: Metric, kind: IndexKind, config: EngineConfig,
                       rowSource: (any RowChunkSource)? = nil) throws -> StoreState {
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
        var state = StoreState(index: try IndexFactory.decode(from: try section(indexTag), config: config, rowSource: rowSource))
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

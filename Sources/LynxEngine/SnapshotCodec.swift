import LynxIndex
import LynxStorage
import LynxSupport

/// The engine's sections inside a snapshot file (the file's framing and checksums are LynxStorage's;
/// docs/STORAGE_FORMATS.md documents both). All integers little-endian.
///
/// - tag 1 `meta`: UTF-8 `key=value` lines: `dimension`, `metric`, `index` (checked against the manifest).
/// - tag 2 `index`: the index's own serialization (docs/INDEXES.md), vectors included.
/// - tag 3 `metadata`: u64 count, then per record: u64 id, u32 length, that many bytes of compact JSON.
/// - tag 4 `pending` (only while records wait to be linked): operations that override the index, in staging order.
/// - tag 5 `metadata indexes` (only when there are some): their definitions; the indexes are rebuilt from tag 3.
enum SnapshotCodec {
    static let metaTag: UInt32 = 1
    static let indexTag: UInt32 = 2
    static let metadataTag: UInt32 = 3
    static let pendingTag: UInt32 = 4
    static let pendingVersion: UInt32 = 1
    static let metadataIndexesTag: UInt32 = 5
    static let metadataIndexesVersion: UInt32 = 1

    /// The sections of a snapshot of `state`, produced on demand into the snapshot file (see `StreamedSection`):
    /// no whole-store buffer. `state` is an immutable capture, so a section produced again emits the same bytes.
    /// The vectors' row chunks go to `rowSink` (the data directory's chunk files) when one is given.
    static func streamedSections(_ state: StoreState, dimension: Int, metric: Metric, kind: IndexKind,
                                 rowSink: (any RowChunkSink)? = nil) -> [StreamedSection] {
        let meta = Array("dimension=\(dimension)\nmetric=\(metric.rawValue)\nindex=\(kind.rawValue)\n".utf8)
        let sortedMetadata = state.metadata.sorted(by: { $0.key < $1.key })
        var sections = [
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
        let indexes = state.metadataIndexes.all
        if !indexes.isEmpty {
            sections.append(StreamedSection(tag: metadataIndexesTag) { emit in
                try streaming(emit) { w in writeMetadataIndexes(indexes, into: &w) }
            })
        }
        if let tail = state.tail, !tail.isEmpty {
            sections.append(StreamedSection(tag: pendingTag) { emit in
                try streaming(emit) { w in writePending(tail, dimension: dimension, into: &w) }
            })
        }
        return sections
    }

    /// u32 version (1), u64 count, then per operation: u8 kind (0 upsert, 1 delete), u64 id, and for an upsert
    /// the vector, d × f32.
    private static func writePending(_ tail: PendingTail, dimension: Int, into w: inout BinaryWriter) {
        let ops = tail.operationsInOrder()
        w.write(pendingVersion)
        w.write(UInt64(ops.count))
        for op in ops {
            if let vector = tail.vector(of: op) {
                w.write(UInt8(0))
                w.write(op.id)
                w.write(contentsOf: vector)
            } else {
                w.write(UInt8(1))
                w.write(op.id)
            }
        }
    }

    /// u32 version (1), u32 count, then per index: u8 type code, u32 component count, and per component a u32 byte
    /// length and that many bytes of UTF-8.
    private static func writeMetadataIndexes(_ indexes: [FieldIndex], into w: inout BinaryWriter) {
        w.write(metadataIndexesVersion)
        w.write(UInt32(indexes.count))
        for index in indexes {
            w.write(index.type.code)
            w.write(UInt32(index.path.components.count))
            for component in index.path.components {
                let bytes = Array(component.utf8)
                w.write(UInt32(bytes.count))
                w.write(contentsOf: bytes)
            }
        }
    }

    /// Rebuilds the indexes a snapshot defines from the metadata already in `state`.
    private static func readMetadataIndexes(_ bytes: [UInt8], into state: inout StoreState) throws {
        var reader = BinaryReader(bytes)
        let version = try reader.readUInt32()
        guard version == metadataIndexesVersion else {
            throw EngineError.internalError("snapshot's metadata index section has version \(version); this lynxd reads \(metadataIndexesVersion)")
        }
        for _ in 0..<(try reader.readUInt32()) {
            let code = try reader.readUInt8()
            guard let type = MetadataIndexType(code: code) else {
                throw EngineError.internalError("snapshot defines a metadata index of unknown type \(code)")
            }
            var components: [String] = []
            for _ in 0..<(try reader.readUInt32()) {
                let length = try reader.readUInt32()
                guard let component = String(validating: try reader.readUInt8s(count: Int(length)), as: UTF8.self) else {
                    throw EngineError.internalError("snapshot defines a metadata index whose field path is not UTF-8")
                }
                components.append(component)
            }
            state.createMetadataIndex(FieldPath(components), type: type)
        }
        guard reader.isAtEnd else { throw EngineError.internalError("snapshot's metadata index section has bytes after its definitions") }
    }

    /// Stages the pending operations of a snapshot into `state` (into its tail, or straight into the index when
    /// this run links synchronously).
    private static func readPending(_ bytes: [UInt8], dimension: Int, into state: inout StoreState) throws {
        var reader = BinaryReader(bytes)
        let version = try reader.readUInt32()
        guard version == pendingVersion else {
            throw EngineError.internalError("snapshot's pending section has version \(version); this lynxd reads \(pendingVersion)")
        }
        let count = try reader.readUInt64()
        for _ in 0..<count {
            let kind = try reader.readUInt8()
            let id = try reader.readUInt64()
            switch kind {
            case 0:
                let vector = try reader.readFloats(count: dimension)
                if state.tail != nil {
                    vector.withUnsafeBufferPointer { state.tail!.stageUpsert(id: id, vector: $0) }
                } else {
                    state.index.upsert(id: id, vector: vector)
                }
            case 1:
                if state.tail != nil { state.tail!.stageDelete(id) } else { state.index.remove(id) }
            default:
                throw EngineError.internalError("snapshot's pending section has an operation of unknown kind \(kind)")
            }
        }
        guard reader.isAtEnd else { throw EngineError.internalError("snapshot's pending section has bytes after its operations") }
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

    static func decode(_ sections: [(tag: UInt32, bytes: [UInt8])], dimension: Int, metric: Metric, spec: IndexSpec, config: EngineConfig,
                       stagesWrites: Bool, rowSource: (any RowChunkSource)? = nil) throws -> StoreState {
        let kind = spec.kind
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
        let indexBytes = try section(indexTag)
        let index = try IndexFactory.decode(from: indexBytes, spec: spec, config: config, rowSource: rowSource)
        // The index section carries its own kind, dimension and metric: they must be the store's, or searches
        // (which assume the store's dimension) would trap (found by Fuzz/snapshot).
        let magic = indexBytes.count >= 4 ? UInt32(indexBytes[0]) | UInt32(indexBytes[1]) << 8
            | UInt32(indexBytes[2]) << 16 | UInt32(indexBytes[3]) << 24 : 0
        guard magic == kind.magic, index.dimension == dimension, index.metric == metric else {
            throw EngineError.internalError("snapshot's index section is for dimension \(index.dimension), metric \(index.metric.rawValue); its store is \(kind.rawValue), dimension \(dimension), metric \(metric.rawValue)")
        }
        var state = StoreState(index: index, stagesWrites: stagesWrites)
        var reader = BinaryReader(try section(metadataTag))
        let count = try reader.readUInt64()
        for _ in 0..<count {
            let id = try reader.readUInt64()
            let length = try reader.readUInt32()
            let json = try reader.readUInt8s(count: Int(length))
            state.setMetadata(try Metadata(json: json), for: id)
        }
        if let indexes = sections.first(where: { $0.tag == metadataIndexesTag }) {
            try readMetadataIndexes(indexes.bytes, into: &state)
        }
        if let pending = sections.first(where: { $0.tag == pendingTag }) {
            try readPending(pending.bytes, dimension: dimension, into: &state)
            state.recount()
        }
        return state
    }
}

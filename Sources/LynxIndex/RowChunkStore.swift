import LynxSupport

/// Out-of-line storage of `ChunkedRows` chunks, so that a snapshot rewrites only the chunks that changed.
///
/// The index layer knows nothing of files: a serializer hands each chunk to a `RowChunkSink` and writes the
/// reference it gets back; a deserializer hands each reference to a `RowChunkSource`. The engine's chunk files
/// (docs/STORAGE_FORMATS.md, "Row chunk files") implement both.
///
/// A chunk remembers the reference it was last stored under (`RowChunk.stored`) until it is next written to
/// (`ChunkedRows.writableRow` clears it on the one copy being written; copies sharing the chunk keep it). So a
/// sink sees `existing` for every chunk unchanged since it was stored, and can reuse it instead of writing again.

/// Where a stored chunk is: an opaque token (the engine's file name), how many rows it holds, and the CRC-32C
/// of the stored bytes (checked when it is loaded).
public struct RowChunkReference: Sendable, Equatable, Hashable {
    public var token: UInt64
    public var rows: Int
    public var checksum: UInt32
    public init(token: UInt64, rows: Int, checksum: UInt32) {
        self.token = token
        self.rows = rows
        self.checksum = checksum
    }
}

/// Stores chunks for a serializer (see the file comment). Called on the serializing thread only.
public protocol RowChunkSink: AnyObject {
    /// Stores the first `rows` rows of a chunk (`rows × width` floats at `base`; the chunk's memory, aligned to
    /// 4096 bytes, runs on to `RowChunk.byteCount(width:)`), or returns `existing` when it still holds them.
    /// Cannot throw (a serializer cannot): a sink that fails remembers the error for its owner and returns any
    /// reference.
    func store(rows: Int, width: Int, base: UnsafePointer<Float>, existing: RowChunkReference?) -> RowChunkReference
}

/// Loads chunks for a deserializer.
public protocol RowChunkSource: Sendable {
    /// Fills `into` (`reference.rows × width` floats) with the stored rows, or throws.
    func load(_ reference: RowChunkReference, width: Int, into: UnsafeMutableBufferPointer<Float>) throws
}

/// A source that can also hand out a stored chunk's rows in place, as a read-only mapping of the file they are
/// stored in, instead of copying them into memory: a store whose full vectors are kept on disk (`on_disk`).
public protocol RowChunkMapper: RowChunkSource {
    /// Whether a store's full vectors are to be read in place (the codes and the rest are loaded into memory).
    var mapsVectors: Bool { get }
    /// The chunk's rows in place, after checking the file as `load` does; throws as `load` does. `verify: false`
    /// skips the checksum, which reads the whole file: for a chunk this process has just stored from the memory
    /// it replaces (the header and size are still checked).
    func map(_ reference: RowChunkReference, width: Int, verify: Bool) throws -> MappedRows
}

/// Rows of a stored chunk read in place (a read-only file mapping, from `RowChunkMapper.map`). The mapping is
/// released when the last chunk holding it is dropped.
public final class MappedRows: @unchecked Sendable {
    /// The first row: page-aligned, readable for `rows × width` floats.
    public let base: UnsafeRawPointer
    public let rows: Int
    private let release: @Sendable () -> Void

    public init(base: UnsafeRawPointer, rows: Int, release: @escaping @Sendable () -> Void) {
        self.base = base
        self.rows = rows
        self.release = release
    }

    deinit { release() }
}

extension BinaryWriter {
    /// Where `write(rows:)` stores row chunks out of line; nil writes them inline. Kept in the writer's
    /// `attachment`, so that the serializers of every index find it without a parameter of their own.
    public var rowSink: (any RowChunkSink)? {
        get { attachment as? any RowChunkSink }
        set { attachment = newValue }
    }

    /// Writes `rows` as a row block (docs/INDEXES.md): with a `rowSink`, mode 1 and one reference per chunk
    /// (u64 token, u32 rows, u32 CRC-32C); without, mode 0 and the rows inline (f32 × count·width).
    public mutating func write(rows: ChunkedRows) {
        guard let sink = rowSink else {
            write(UInt8(0))
            write(inline: rows)
            return
        }
        write(UInt8(1))
        write(UInt32(rows.chunkCount))
        rows.forEachStoredChunk { chunk, used in
            let reference = sink.store(rows: used, width: rows.width, base: chunk.storage, existing: chunk.stored)
            chunk.stored = reference
            write(reference.token)
            write(UInt32(reference.rows))
            write(reference.checksum)
        }
    }
}

extension BinaryReader {
    /// Loads the row chunks a row block refers to (`readRows`); nil when there are none. Kept in the reader's
    /// `attachment`.
    public var rowSource: (any RowChunkSource)? {
        get { attachment as? any RowChunkSource }
        set { attachment = newValue }
    }

    /// Reads a row block written by `write(rows:)` holding `count` rows of `width` floats. Mode 1 needs
    /// `rowSource`; each chunk must hold at least the rows the count implies (1,024, fewer in the last) and at
    /// most 1,024.
    /// `blockVersion: false` reads the layout before row blocks (index format version 1): the rows inline, with no
    /// mode byte. `vectors`: these are an index's full vectors, read in place when the source maps them
    /// (`RowChunkMapper.mapsVectors`).
    public mutating func readRows(width: Int, count: Int, blockVersion: Bool = true, vectors: Bool = false) throws -> ChunkedRows {
        let (cells, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, count >= 0 else { throw BinaryDecodingError.corrupt("count × dimension overflows") }
        let mode = blockVersion ? try readUInt8() : 0
        switch mode {
        case 0:
            return try readFloats(count: cells).withUnsafeBufferPointer { ChunkedRows(width: width, contiguous: $0) }
        case 1:
            let chunks = Int(try readUInt32())
            let expected = (count + ChunkedRows.rowsPerChunk - 1) / ChunkedRows.rowsPerChunk
            guard chunks == expected else {
                throw BinaryDecodingError.corrupt("\(chunks) row chunks for \(count) rows (expected \(expected))")
            }
            guard let source = rowSource else {
                throw BinaryDecodingError.corrupt("the rows are stored out of line, and no chunk source was given")
            }
            var references: [RowChunkReference] = []
            references.reserveCapacity(chunks)
            for i in 0..<chunks {
                let token = try readUInt64()
                let rows = Int(try readUInt32())
                let checksum = try readUInt32()
                // A chunk stored before rows were removed from its end holds more than are in use.
                let want = min(ChunkedRows.rowsPerChunk, count - i * ChunkedRows.rowsPerChunk)
                guard rows >= want, rows <= ChunkedRows.rowsPerChunk else {
                    throw BinaryDecodingError.corrupt("row chunk \(i) holds \(rows) rows, expected \(want)")
                }
                references.append(RowChunkReference(token: token, rows: rows, checksum: checksum))
            }
            let mapper = vectors ? (source as? any RowChunkMapper).flatMap { $0.mapsVectors ? $0 : nil } : nil
            return try ChunkedRows(width: width, count: count, references: references, source: source, mapper: mapper)
        default:
            throw BinaryDecodingError.corrupt("unknown row block mode \(mode)")
        }
    }
}

import LynxSupport

/// Fixed-width rows of `Float`, stored in chunks of `rowsPerChunk` rows, each chunk its own heap block.
///
/// Why not one contiguous `[Float]`: two stalls that grow with the store.
/// - Copy-on-write is per chunk. The engine takes an O(1) copy of the index at each checkpoint; with one array the
///   next write copied the whole matrix (hundreds of MB) under the writer lock. Here it copies the one chunk it
///   touches (`rowsPerChunk × width` floats, 1.5 MB at 384-d).
/// - Growth never moves existing rows: a full array doubled by copying everything while the writer waited.
///
/// Rows within a chunk are contiguous, so scans stay tight SIMD loops (`forEachChunk`).
/// Pointers from `row(_:)` stay valid while this value is alive and not mutated (chunks are heap blocks that are
/// never moved or resized). Concurrency: as a value type; reads may run concurrently, mutations need exclusivity
/// (`@unchecked Sendable` because of the raw chunk pointers, which only ever point into chunks this value retains).
public struct ChunkedRows: @unchecked Sendable {
    public static let rowsPerChunk = 1024
    @usableFromInline static let shift = 10
    @usableFromInline static let mask = 1023

    public let width: Int
    @usableFromInline var chunks: [RowChunk] = []
    /// `chunks[i].storage` for every i, kept in step with `chunks`: lets a hot loop address any row with one
    /// table load (`withChunkBases`) instead of retaining chunk objects.
    @usableFromInline var bases: [UnsafeMutablePointer<Float>] = []
    public private(set) var count: Int = 0

    public init(width: Int) {
        precondition(width > 0, "row width must be positive")
        self.width = width
    }

    /// Rows from a contiguous row-major buffer (`count × width` floats), e.g. a decoded snapshot.
    public init(width: Int, contiguous values: UnsafeBufferPointer<Float>) {
        self.init(width: width)
        precondition(values.count % width == 0, "not a whole number of rows")
        let rows = values.count / width
        var r = 0
        while r < rows {
            let n = Swift.min(Self.rowsPerChunk, rows - r)
            let chunk = RowChunk(floats: Self.rowsPerChunk * width)
            chunk.storage.update(from: values.baseAddress! + r * width, count: n * width)
            chunks.append(chunk)
            bases.append(chunk.storage)
            r += n
        }
        count = rows
    }

    /// Rows read back from stored chunks (`BinaryReader.readRows`): each chunk remembers its reference, so the
    /// next snapshot reuses it until the chunk is written to.
    /// `mapper`: the chunks are read in place from where they are stored (`RowChunkMapper`) instead of copied.
    init(width: Int, count: Int, references: [RowChunkReference], source: any RowChunkSource,
         mapper: (any RowChunkMapper)? = nil) throws {
        self.init(width: width)
        for reference in references {
            let chunk: RowChunk
            if let mapper {
                chunk = RowChunk(mapping: try mapper.map(reference, width: width, verify: true), width: width)
            } else {
                chunk = RowChunk(floats: Self.rowsPerChunk * width)
                try source.load(reference, width: width, into: UnsafeMutableBufferPointer(start: chunk.storage, count: reference.rows * width))
            }
            chunk.stored = reference
            chunks.append(chunk)
            bases.append(chunk.storage)
        }
        self.count = count
    }

    /// Replaces each chunk held in memory that is stored unchanged (its reference, from a snapshot that is now
    /// safe) with its stored rows read in place, so its memory goes back. Returns the chunks replaced. Rows
    /// written later copy their chunk into memory again (`writableRow`). The files were just written from these
    /// chunks, so their checksums are not read again (that would read every new file under the caller's lock).
    public mutating func mapStoredChunks(using mapper: any RowChunkMapper) throws -> Int {
        var replaced = 0
        for c in chunks.indices where !chunks[c].isMapped {
            guard let reference = chunks[c].stored, reference.token != 0 else { continue }
            let mapped = RowChunk(mapping: try mapper.map(reference, width: width, verify: false), width: width)
            mapped.stored = reference
            chunks[c] = mapped
            bases[c] = mapped.storage
            replaced += 1
        }
        return replaced
    }

    /// Chunks in use: ⌈count / rowsPerChunk⌉.
    public var chunkCount: Int { chunks.count }

    /// Calls `body(chunk, rowsInUse)` for each chunk in order (for `BinaryWriter.write(rows:)`).
    func forEachStoredChunk(_ body: (RowChunk, Int) -> Void) {
        for (i, chunk) in chunks.enumerated() {
            body(chunk, Swift.min(Self.rowsPerChunk, count - i * Self.rowsPerChunk))
        }
    }

    /// The start of row `r` (0 ..< count).
    @inlinable @inline(__always)
    public func row(_ r: Int) -> UnsafePointer<Float> {
        UnsafePointer(chunks[r &>> Self.shift].storage + (r & Self.mask) &* width)
    }

    /// Calls `body` with the table of chunk base pointers: row r starts at
    /// `table[r >> 10] + (r & 1023) * width` (`ChunkedRows.address`). Valid only inside `body`.
    @inlinable
    public func withChunkBases<R>(_ body: (UnsafePointer<UnsafeMutablePointer<Float>>) -> R) -> R {
        bases.withUnsafeBufferPointer { b in
            // An empty table still needs a valid pointer; it is never dereferenced then.
            guard let base = b.baseAddress else {
                var dummy = UnsafeMutablePointer<Float>(bitPattern: 16)!
                return withUnsafePointer(to: &dummy) { body($0) }
            }
            return body(base)
        }
    }

    /// The start of row `r` given the table from `withChunkBases`.
    @inlinable @inline(__always)
    public static func address(_ table: UnsafePointer<UnsafeMutablePointer<Float>>, row r: Int, width: Int) -> UnsafePointer<Float> {
        UnsafePointer(table[r &>> shift] + (r & mask) &* width)
    }

    /// Calls `body(firstRowPointer, firstRowIndex, rowCount)` for each chunk in order.
    @inlinable
    public func forEachChunk(_ body: (UnsafePointer<Float>, Int, Int) -> Void) {
        var first = 0
        for chunk in chunks {
            let n = Swift.min(Self.rowsPerChunk, count - first)
            if n <= 0 { break }
            body(UnsafePointer(chunk.storage), first, n)
            first += n
        }
    }

    public mutating func append(_ values: UnsafePointer<Float>) {
        if count & Self.mask == 0 && count >> Self.shift == chunks.count {
            let chunk = RowChunk(floats: Self.rowsPerChunk * width)
            chunks.append(chunk)
            bases.append(chunk.storage)
        }
        count += 1
        writableRow(count - 1).update(from: values, count: width)
    }

    public mutating func setRow(_ r: Int, from values: UnsafePointer<Float>) {
        writableRow(r).update(from: values, count: width)
    }

    /// Copies row `from` over row `to` (for swap-remove).
    public mutating func copyRow(from: Int, to: Int) {
        let source = row(from)
        writableRow(to).update(from: source, count: width)
    }

    public mutating func removeLast() {
        precondition(count > 0, "removeLast on empty rows")
        count -= 1
        if count & Self.mask == 0 && chunks.count > (count >> Self.shift) {
            chunks.removeLast()
            bases.removeLast()
        }
    }

    /// A pointer into row `r` that may be written: the row's chunk is made unique first (copy-on-write), and
    /// a chunk read in place from its file is copied into memory.
    @usableFromInline
    mutating func writableRow(_ r: Int) -> UnsafeMutablePointer<Float> {
        let c = r &>> Self.shift
        if chunks[c].isMapped || !isKnownUniquelyReferenced(&chunks[c]) {
            chunks[c] = chunks[c].copy()
            bases[c] = chunks[c].storage
        } else {
            // Unique: no copy being serialised shares it. Stored unconditionally rather than tested first, so that
            // the clearing never depends on seeing the serialising thread's last write to the field.
            chunks[c].stored = nil
        }
        return chunks[c].storage + (r & Self.mask) &* width
    }

    /// The rows as one contiguous array (row-major).
    public func contiguous() -> [Float] {
        var out = [Float]()
        out.reserveCapacity(count * width)
        forEachChunk { base, _, n in out.append(contentsOf: UnsafeBufferPointer(start: base, count: n * width)) }
        return out
    }

    /// Bytes held in memory (allocated chunk capacity), chunks read in place from files not included.
    public var allocatedBytes: Int {
        chunks.reduce(0) { $0 + ($1.isMapped ? 0 : Self.rowsPerChunk * width * MemoryLayout<Float>.stride) }
    }

    /// Bytes of the chunks read in place from their files (`RowChunkMapper`).
    public var mappedBytes: Int {
        chunks.reduce(0) { $0 + ($1.mapping.map { $0.rows * width * MemoryLayout<Float>.stride } ?? 0) }
    }
}

/// One block of `ChunkedRows`. Shared between copies until one of them writes to it.
///
/// In memory, a mapping of its own (`PageMemory`), so a chunk that is dropped (a drained pending tail's, the old
/// side of a copy-on-write) goes back to the system instead of staying in the allocator. Page-aligned, so that a
/// chunk can be written to a file with O_DIRECT straight from this memory (a full chunk is 4096 × width bytes, a
/// whole number of blocks). Or read in place from the file it is stored in (`mapping`): read-only, its rows
/// past the stored ones not there at all; `ChunkedRows.writableRow` copies such a chunk before any write.
@usableFromInline
final class RowChunk: @unchecked Sendable {
    @usableFromInline let storage: UnsafeMutablePointer<Float>
    /// Capacity: `rowsPerChunk × width`.
    let floats: Int
    private let memory: PageMemory?
    /// The stored rows this chunk reads in place; nil for a chunk in memory.
    let mapping: MappedRows?
    /// Where this chunk's rows were last stored (`RowChunkSink`), nil once written to since. Set by the thread
    /// serialising a copy that shares the chunk; cleared only by a writer holding the chunk uniquely.
    var stored: RowChunkReference?

    /// Zeroed (pages not yet written to cost no memory).
    init(floats: Int) {
        self.floats = floats
        memory = PageMemory.allocate(byteCount: floats * MemoryLayout<Float>.stride)
        storage = memory!.base.bindMemory(to: Float.self, capacity: floats)
        mapping = nil
    }

    /// The rows of `mapping`, read in place.
    init(mapping: MappedRows, width: Int) {
        floats = ChunkedRows.rowsPerChunk * width
        memory = nil
        self.mapping = mapping
        storage = UnsafeMutablePointer(mutating: mapping.base.assumingMemoryBound(to: Float.self))
    }

    var isMapped: Bool { mapping != nil }

    /// A copy in memory (of the stored rows only, for a mapped chunk).
    func copy() -> RowChunk {
        let c = RowChunk(floats: floats)
        c.storage.update(from: storage, count: mapping.map { $0.rows * (floats / ChunkedRows.rowsPerChunk) } ?? floats)
        return c
    }

    deinit { memory?.deallocate() }
}

extension BinaryWriter {
    /// Writes the rows in order, exactly as `write(contentsOf: [Float])` writes a contiguous matrix.
    public mutating func write(inline rows: ChunkedRows) {
        rows.forEachChunk { base, _, n in
            write(contentsOf: UnsafeBufferPointer(start: base, count: n * rows.width))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import LynxSupport

/// One stored chunk of vector rows: `rows/<token>.lrows` in the data directory (docs/STORAGE_FORMATS.md, "Row chunk files").
///
/// A snapshot refers to its vectors' chunks by (token, rows, CRC-32C of the file) instead of holding them, so a
/// checkpoint writes only the chunks written to since the last one. Files are immutable once written; a new
/// version of a chunk gets a new token. Layout (little-endian):
///
///     0     8  magic "LYNXROWS"
///     8     4  u32 format version (1)
///     12    4  u32 width (floats per row)
///     16    4  u32 rows
///     20    4  u32 reserved (0)
///     24    8  u64 token (the file name's)
///     32 4064  zeros (the header block is 4096 bytes, so the rows start block-aligned)
///     4096     rows × width f32, then padding to a multiple of 4096 bytes (any bytes)
///
/// The CRC-32C that the reference holds covers the whole file, padding included.
public enum RowChunkFile {
    public static let directoryName = "rows"
    public static let headerSize = 4096
    static let magic = Array("LYNXROWS".utf8)
    public static let version: UInt32 = 1
    static let suffix = ".lrows"

    public static func fileName(token: UInt64) -> String {
        let hex = String(token, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + suffix
    }

    /// The token in a chunk file name; nil for other names (temporary or foreign files).
    public static func token(fromFileName name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let hex = name.dropLast(suffix.count)
        guard hex.count == 16 else { return nil }
        return UInt64(hex, radix: 16)
    }

    /// Bytes of a file holding `rows` rows of `width` floats.
    public static func fileSize(rows: Int, width: Int) -> Int {
        headerSize + roundUp(rows * width * MemoryLayout<Float>.stride)
    }

    static func roundUp(_ n: Int) -> Int { (n + headerSize - 1) / headerSize * headerSize }

    /// Writes the file (created or truncated; not synced: see `sync`) and returns its CRC-32C. `payload` holds
    /// `rows × width` floats, is aligned to 4096 bytes and readable up to the next multiple of 4096 bytes: it is
    /// written from there with O_DIRECT (through the page cache where the filesystem refuses O_DIRECT).
    public static func write(path: String, token: UInt64, width: Int, rows: Int, payload: UnsafeRawPointer,
                             io: FileIO) throws -> UInt32 {
        #if _endian(big)
        fatalError("row chunk files are written straight from memory: little-endian hosts only")
        #endif
        precondition(Int(bitPattern: payload) % headerSize == 0, "row chunk payload must be 4096-byte aligned")
        let header = UnsafeMutableRawPointer.allocate(byteCount: headerSize, alignment: headerSize)
        defer { header.deallocate() }
        header.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        var fields = BinaryWriter()
        fields.write(contentsOf: magic)
        fields.write(version)
        fields.write(UInt32(width))
        fields.write(UInt32(rows))
        fields.write(UInt32(0))
        fields.write(token)
        fields.bytes.withUnsafeBytes { header.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let headerBytes = UnsafeRawBufferPointer(start: header, count: headerSize)
        let body = UnsafeRawBufferPointer(start: payload, count: roundUp(rows * width * MemoryLayout<Float>.stride))

        func attempt(direct: Bool) throws {
            let file = try io.open(path, mode: direct ? .createTruncateDirect : .createTruncate)
            do {
                try io.pwriteFully(file, headerBytes, at: 0)
                if body.count > 0 { try io.pwriteFully(file, body, at: UInt64(headerSize)) }
            } catch {
                try? io.close(file)
                throw error
            }
            try io.close(file)  // never twice: a close that fails has released the descriptor all the same
        }
        do {
            try attempt(direct: true)
        } catch StorageError.io(let failure) where failure.errno == EINVAL {
            // O_DIRECT refused (at open, or its alignment at the first write): through the page cache instead.
            try attempt(direct: false)
        }
        return CRC32C.combine(CRC32C.extend(0, headerBytes), CRC32C.extend(0, body), lengthB: UInt64(body.count))
    }

    /// Makes written chunk files durable: fdatasync each (the first commits the journal for all), then the
    /// directory that names them.
    public static func sync(_ paths: [String], directory: String, io: FileIO) throws {
        for path in paths {
            let file = try io.open(path, mode: .readOnly)
            do {
                try io.fdatasync(file)
            } catch {
                try? io.close(file)
                throw error
            }
            try io.close(file)
        }
        if !paths.isEmpty { try io.fsyncDirectory(directory) }
    }

    /// Reads a chunk file into `into` (`rows × width` floats) after checking its size, header and CRC-32C
    /// against what the snapshot expects. Throws `.corrupt` (or `.notFound`) naming the file otherwise.
    public static func read(path: String, token: UInt64, width: Int, rows: Int, checksum: UInt32,
                            into: UnsafeMutableRawBufferPointer, io: FileIO) throws {
        let payloadBytes = rows * width * MemoryLayout<Float>.stride
        precondition(into.count >= payloadBytes, "destination too small")
        let file = try io.open(path, mode: .readOnly)
        defer { try? io.close(file) }
        var header = [UInt8](repeating: 0, count: headerSize)
        try checkSizeAndHeader(file, &header, path: path, token: token, width: width, rows: rows, io: io)
        let payload = UnsafeMutableRawBufferPointer(rebasing: into[0..<payloadBytes])
        guard try io.preadFully(file, into: payload, at: UInt64(headerSize)) == payloadBytes else {
            throw corrupt(path, "short read")
        }
        var crc = CRC32C.extend(CRC32C.extend(0, header), UnsafeRawBufferPointer(payload))
        let padding = roundUp(payloadBytes) - payloadBytes
        if padding > 0 {
            var pad = [UInt8](repeating: 0, count: padding)
            guard try pad.withUnsafeMutableBytes({ try io.preadFully(file, into: $0, at: UInt64(headerSize + payloadBytes)) }) == padding else {
                throw corrupt(path, "short read")
            }
            crc = CRC32C.extend(crc, pad)
        }
        try checkChecksum(crc, checksum, path: path)
    }

    /// Maps a chunk file read-only after the checks `read` makes (the CRC-32C is computed over the mapping, so
    /// its pages are read once; `checksum` nil skips it). Returns the mapping of the whole file and its length:
    /// the rows start at `headerSize`. The caller unmaps it (`io.unmap`).
    public static func map(path: String, token: UInt64, width: Int, rows: Int, checksum: UInt32?,
                           io: FileIO) throws -> (base: UnsafeRawPointer, length: Int) {
        let file = try io.open(path, mode: .readOnly)
        defer { try? io.close(file) }
        var header = [UInt8](repeating: 0, count: headerSize)
        try checkSizeAndHeader(file, &header, path: path, token: token, width: width, rows: rows, io: io)
        let length = fileSize(rows: rows, width: width)
        let base = try io.mapReadOnly(file, length: length)
        guard let checksum else { return (base, length) }
        let crc = CRC32C.extend(0, UnsafeRawBufferPointer(start: base, count: length))
        do {
            try checkChecksum(crc, checksum, path: path)
        } catch {
            io.unmap(UnsafeMutableRawPointer(mutating: base), length: length)
            throw error
        }
        return (base, length)
    }

    private static func corrupt(_ path: String, _ why: String) -> StorageError { .corrupt("row chunk file \(path): \(why)") }

    /// Checks the file's size and reads its header into `header`, checking magic, version, width, rows and token.
    private static func checkSizeAndHeader(_ file: OpenFile, _ header: inout [UInt8], path: String, token: UInt64,
                                           width: Int, rows: Int, io: FileIO) throws {
        let size = try io.fileSize(file)
        let expectedSize = fileSize(rows: rows, width: width)
        guard size == UInt64(expectedSize) else { throw corrupt(path, "\(size) bytes, expected \(expectedSize)") }
        guard try header.withUnsafeMutableBytes({ try io.preadFully(file, into: $0, at: 0) }) == headerSize else {
            throw corrupt(path, "short header")
        }
        guard Array(header[0..<8]) == magic else { throw corrupt(path, "bad magic") }
        let fileVersion = header.le32(at: 8), fileWidth = header.le32(at: 12), fileRows = header.le32(at: 16)
        let fileToken = header.le64(at: 24)
        guard fileVersion == version else { throw corrupt(path, "unsupported version \(fileVersion)") }
        guard fileWidth == UInt32(width), fileRows == UInt32(rows), fileToken == token else {
            throw corrupt(path, "holds \(fileRows) rows of \(fileWidth) for token \(String(fileToken, radix: 16)), expected \(rows) of \(width) for \(String(token, radix: 16))")
        }
    }

    private static func checkChecksum(_ crc: UInt32, _ checksum: UInt32, path: String) throws {
        guard crc == checksum else {
            throw corrupt(path, "checksum \(String(crc, radix: 16)) differs from the snapshot's \(String(checksum, radix: 16))")
        }
    }
}

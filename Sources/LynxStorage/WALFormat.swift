import Foundation
import LynxSupport

/// Constants of the WAL file format (see docs/STORAGE_FORMATS.md and the header comment of WALReader.swift).
public enum WALFormat {
    /// "LYWL" as bytes on disk.
    public static let magic: [UInt8] = [0x4C, 0x59, 0x57, 0x4C]
    public static let magicValue: UInt32 = 0x4C57_594C // magic read as a little-endian UInt32
    public static let version: UInt16 = 1
    public static let headerSize = 40
    public static let frameHeaderSize = 32
    /// Largest payload a frame may carry (1 GiB). A header claiming more is `.badLength`.
    public static let maxPayload = 1 << 30
    public static let opUpsert: UInt8 = 1
    public static let opDelete: UInt8 = 2
    public static let opCreateMetadataIndex: UInt8 = 3
    public static let opDropMetadataIndex: UInt8 = 4
    public static let flagCommit: UInt8 = 1
    /// Fixed part of an upsert payload: id (8) + dimension (4) + metadata length (4).
    public static let upsertFixedSize = 16
}

/// The 40-byte file header of a WAL generation.
public struct WALHeader: Sendable, Equatable {
    public var version: UInt16
    public var flags: UInt16
    public var checkpointSeq: UInt64
    public var salt1: UInt32
    public var salt2: UInt32
    /// LSN of the first frame after this header; the LSN of frame i (0-based) is firstLSN + i.
    public var firstLSN: UInt64
    /// crc32c of bytes 0..<36 (seed 0). Also the seed of the first frame's cumulative checksum.
    public var checksum: UInt32

    public init(checkpointSeq: UInt64, salt1: UInt32, salt2: UInt32, firstLSN: UInt64) {
        self.version = WALFormat.version
        self.flags = 0
        self.checkpointSeq = checkpointSeq
        self.salt1 = salt1
        self.salt2 = salt2
        self.firstLSN = firstLSN
        self.checksum = 0
        self.checksum = CRC32C.extend(0, Array(encoded()[0..<36]))
    }

    /// The 40 on-disk bytes.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(contentsOf: WALFormat.magic)
        w.write(version)
        w.write(flags)
        w.write(checkpointSeq)
        w.write(salt1)
        w.write(salt2)
        w.write(firstLSN)
        w.write(UInt32(0)) // reserved
        w.write(checksum)
        return w.bytes
    }

    /// Parses and validates 40 header bytes; the error string says what is wrong.
    public static func decode(_ b: [UInt8]) -> Result<WALHeader, WALHeaderError> {
        guard b.count >= WALFormat.headerSize else {
            return .failure(WALHeaderError("file is \(b.count) bytes, shorter than the \(WALFormat.headerSize)-byte header"))
        }
        guard Array(b[0..<4]) == WALFormat.magic else { return .failure(WALHeaderError("bad magic")) }
        let stored = b.le32(at: 36)
        let computed = CRC32C.extend(0, Array(b[0..<36]))
        guard stored == computed else {
            return .failure(WALHeaderError(String(format: "header checksum mismatch (stored %08x, computed %08x)", stored, computed)))
        }
        let version = b.le16(at: 4)
        guard version == WALFormat.version else { return .failure(WALHeaderError("unsupported format version \(version)")) }
        guard b.le16(at: 6) == 0, b.le32(at: 32) == 0 else { return .failure(WALHeaderError("unknown flags or non-zero reserved field")) }
        var h = WALHeader(checkpointSeq: b.le64(at: 8), salt1: b.le32(at: 16), salt2: b.le32(at: 20), firstLSN: b.le64(at: 24))
        h.checksum = stored
        return .success(h)
    }
}

public struct WALHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// One decoded frame.
public struct WALFrame: Sendable, Equatable {
    public var lsn: UInt64
    public var isCommit: Bool
    public var operation: WALOperation
    /// The cumulative checksum stored in (and verified for) this frame.
    public var checksum: UInt32
    /// Header + payload bytes.
    public var size: Int
}

/// Encoding and decoding of frames. The writer and reader use the pointer-based internals; the array
/// versions are public so tests (and tools) can build and take apart frames directly.
public enum WALCodec {
    /// Bytes a transaction of `ops` takes on disk. Throws `.invalidArgument` for an empty transaction or an
    /// operation whose payload exceeds `WALFormat.maxPayload`.
    public static func encodedSize(_ ops: [WALOperation]) throws -> Int {
        if ops.isEmpty { throw StorageError.invalidArgument("a WAL transaction needs at least one operation") }
        var total = 0
        for op in ops {
            let len: Int
            switch op {
            case .upsert(_, let vector, let metadata):
                len = WALFormat.upsertFixedSize + 4 * vector.count + metadata.count
            case .delete:
                len = 8
            case .createMetadataIndex(let path, _):
                len = 1 + FieldPathCoding.size(path)
            case .dropMetadataIndex(let path):
                len = FieldPathCoding.size(path)
            }
            if len > WALFormat.maxPayload {
                throw StorageError.invalidArgument("WAL frame payload of \(len) bytes exceeds the \(WALFormat.maxPayload)-byte limit")
            }
            total += WALFormat.frameHeaderSize + len
        }
        return total
    }

    /// Encodes a transaction into `p` (which must hold `encodedSize(ops)` bytes): frames get LSNs
    /// firstLSN, firstLSN+1, ...; the last carries the commit flag. Returns the last frame's cumulative checksum.
    @inline(__always)
    static func encode(_ ops: [WALOperation], into p: UnsafeMutableRawPointer, firstLSN: UInt64,
                       salt1: UInt32, salt2: UInt32, seed: UInt32) -> UInt32 {
        var off = 0
        var crc = seed
        var lsn = firstLSN
        let last = ops.count - 1
        for i in 0..<ops.count {
            let h = p + off
            let payload = h + WALFormat.frameHeaderSize
            let len: Int
            let code: UInt8
            switch ops[i] {
            case .upsert(let id, let vector, let metadata):
                payload.storeLE(id, at: 0)
                payload.storeLE(UInt32(truncatingIfNeeded: vector.count), at: 8)
                payload.storeLE(UInt32(truncatingIfNeeded: metadata.count), at: 12)
                let vbytes = 4 * vector.count
                #if _endian(little)
                vector.withUnsafeBytes { src in
                    if let b = src.baseAddress { (payload + 16).copyMemory(from: b, byteCount: vbytes) }
                }
                #else
                for j in 0..<vector.count { (payload + 16).storeLE(vector[j].bitPattern, at: 4 * j) }
                #endif
                metadata.withUnsafeBytes { src in
                    if let b = src.baseAddress { (payload + 16 + vbytes).copyMemory(from: b, byteCount: metadata.count) }
                }
                len = WALFormat.upsertFixedSize + vbytes + metadata.count
                code = WALFormat.opUpsert
            case .delete(let id):
                payload.storeLE(id, at: 0)
                len = 8
                code = WALFormat.opDelete
            case .createMetadataIndex(let path, let type):
                payload.storeBytes(of: type, toByteOffset: 0, as: UInt8.self)
                len = 1 + FieldPathCoding.store(path, at: payload + 1)
                code = WALFormat.opCreateMetadataIndex
            case .dropMetadataIndex(let path):
                len = FieldPathCoding.store(path, at: payload)
                code = WALFormat.opDropMetadataIndex
            }
            h.storeLE(UInt32(len), at: 0)
            h.storeBytes(of: code, toByteOffset: 4, as: UInt8.self)
            h.storeBytes(of: i == last ? WALFormat.flagCommit : 0, toByteOffset: 5, as: UInt8.self)
            h.storeLE(UInt16(0), at: 6)
            h.storeLE(lsn, at: 8)
            h.storeLE(salt1, at: 16)
            h.storeLE(salt2, at: 20)
            h.storeLE(lynxCRC(0, UnsafeRawPointer(h), 24), at: 24)
            crc = lynxCRC(crc, UnsafeRawPointer(h), 28)
            crc = lynxCRC(crc, UnsafeRawPointer(payload), len)
            h.storeLE(crc, at: 28)
            off += WALFormat.frameHeaderSize + len
            lsn &+= 1
        }
        return crc
    }

    /// Encodes a transaction into a new array. Returns the bytes and the last frame's cumulative checksum.
    public static func encodeTransaction(_ ops: [WALOperation], firstLSN: UInt64, salt1: UInt32, salt2: UInt32,
                                         seed: UInt32) throws -> (bytes: [UInt8], checksum: UInt32) {
        let size = try encodedSize(ops)
        var crc: UInt32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, n in
            crc = encode(ops, into: UnsafeMutableRawPointer(buf.baseAddress!), firstLSN: firstLSN,
                         salt1: salt1, salt2: salt2, seed: seed)
            n = size
        }
        return (bytes, crc)
    }

    /// `encode`, for a caller outside the storage layer that lays out several transactions in one buffer (a
    /// replication batch): `p` must hold `encodedSize(ops)` bytes. Returns the last frame's cumulative checksum.
    public static func encodeTransaction(_ ops: [WALOperation], into p: UnsafeMutableRawPointer, firstLSN: UInt64,
                                         salt1: UInt32, salt2: UInt32, seed: UInt32) -> UInt32 {
        encode(ops, into: p, firstLSN: firstLSN, salt1: salt1, salt2: salt2, seed: seed)
    }

    /// Decodes and validates the frame at `offset` of `bytes`, given the generation's salts, the previous
    /// frame's cumulative checksum (`seed`; the header checksum for the first frame) and the LSN it must carry.
    public static func decodeFrame(_ bytes: [UInt8], at offset: Int, salt1: UInt32, salt2: UInt32,
                                   seed: UInt32, expectedLSN: UInt64) -> Result<WALFrame, WALStopReason> {
        bytes.withUnsafeBytes { raw in
            let avail = raw.count - offset
            guard avail >= WALFormat.frameHeaderSize else { return .failure(.tornFrame) }
            let h = UnsafeRawPointer(raw.baseAddress! + offset)
            switch checkFrameHeader(h, salt1: salt1, salt2: salt2) {
            case .failure(let r): return .failure(r)
            case .success(let len):
                guard avail >= WALFormat.frameHeaderSize + len else { return .failure(.tornFrame) }
                return checkFrameBody(h, payloadLength: len, seed: seed, expectedLSN: expectedLSN)
            }
        }
    }

    /// Validates a frame header on its own (header checksum, salts, flags, length, op code).
    /// Returns the payload length. An all-zero header counts as `.tornFrame` (space the writer never filled).
    static func checkFrameHeader(_ h: UnsafeRawPointer, salt1: UInt32, salt2: UInt32) -> Result<Int, WALStopReason> {
        if h.loadLE64(at: 0) == 0 && h.loadLE64(at: 8) == 0 && h.loadLE64(at: 16) == 0 && h.loadLE64(at: 24) == 0 {
            return .failure(.tornFrame)
        }
        if lynxCRC(0, h, 24) != h.loadLE32(at: 24) { return .failure(.frameHeaderChecksumMismatch) }
        if h.loadLE32(at: 16) != salt1 || h.loadLE32(at: 20) != salt2 { return .failure(.saltMismatch) }
        let code = h.load(fromByteOffset: 4, as: UInt8.self)
        let flags = h.load(fromByteOffset: 5, as: UInt8.self)
        if !(WALFormat.opUpsert...WALFormat.opDropMetadataIndex).contains(code) || flags & ~WALFormat.flagCommit != 0
            || h.loadLE16(at: 6) != 0 {
            return .failure(.badOperation)
        }
        let len = Int(h.loadLE32(at: 0))
        if len > WALFormat.maxPayload { return .failure(.badLength) }
        if code == WALFormat.opDelete && len != 8 { return .failure(.badLength) }
        if code == WALFormat.opUpsert && len < WALFormat.upsertFixedSize { return .failure(.badLength) }
        if code == WALFormat.opCreateMetadataIndex && len < 3 { return .failure(.badLength) }
        if code == WALFormat.opDropMetadataIndex && len < 2 { return .failure(.badLength) }
        return .success(len)
    }

    /// Validates the cumulative checksum and LSN of a frame whose header passed `checkFrameHeader` and whose
    /// payload is fully present, then decodes its operation.
    static func checkFrameBody(_ h: UnsafeRawPointer, payloadLength len: Int, seed: UInt32,
                               expectedLSN: UInt64) -> Result<WALFrame, WALStopReason> {
        var crc = lynxCRC(seed, h, 28)
        crc = lynxCRC(crc, h + WALFormat.frameHeaderSize, len)
        if crc != h.loadLE32(at: 28) { return .failure(.checksumMismatch) }
        let lsn = h.loadLE64(at: 8)
        if lsn != expectedLSN { return .failure(.lsnMismatch) }
        guard let op = decodeOperation(h.load(fromByteOffset: 4, as: UInt8.self), h + WALFormat.frameHeaderSize, len) else {
            return .failure(.badOperation)
        }
        let commit = h.load(fromByteOffset: 5, as: UInt8.self) & WALFormat.flagCommit != 0
        return .success(WALFrame(lsn: lsn, isCommit: commit, operation: op, checksum: crc,
                                 size: WALFormat.frameHeaderSize + len))
    }

    static func decodeOperation(_ code: UInt8, _ p: UnsafeRawPointer, _ len: Int) -> WALOperation? {
        switch code {
        case WALFormat.opDelete:
            guard len == 8 else { return nil }
            return .delete(id: p.loadLE64(at: 0))
        case WALFormat.opUpsert:
            guard len >= WALFormat.upsertFixedSize else { return nil }
            let id = p.loadLE64(at: 0)
            let dim = Int(p.loadLE32(at: 8))
            let metaLen = Int(p.loadLE32(at: 12))
            guard WALFormat.upsertFixedSize + 4 * dim + metaLen == len else { return nil }
            let vector = [Float](unsafeUninitializedCapacity: dim) { buf, n in
                #if _endian(little)
                if dim > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: p + 16, byteCount: 4 * dim) }
                #else
                for j in 0..<dim { buf[j] = Float(bitPattern: (p + 16).loadLE32(at: 4 * j)) }
                #endif
                n = dim
            }
            let metadata = [UInt8](UnsafeRawBufferPointer(start: p + 16 + 4 * dim, count: metaLen))
            return .upsert(id: id, vector: vector, metadata: metadata)
        case WALFormat.opCreateMetadataIndex:
            guard len >= 1, let path = FieldPathCoding.load(p + 1, len - 1) else { return nil }
            return .createMetadataIndex(path: path, type: p.load(as: UInt8.self))
        case WALFormat.opDropMetadataIndex:
            guard let path = FieldPathCoding.load(p, len) else { return nil }
            return .dropMetadataIndex(path: path)
        default:
            return nil
        }
    }
}

@inline(__always)
func lynxCRC(_ crc: UInt32, _ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
    CRC32C.extend(crc, UnsafeRawBufferPointer(start: p, count: n))
}

// WALReader: reads a Lynx write-ahead log and replays its committed transactions. The format, byte for byte, is
// docs/STORAGE_FORMATS.md ("Write-ahead log"); the frame codec shared with the writer and the replication batch is WALFormat.swift.
//
// A frame is valid only if every earlier frame is (the checksum chain). Replay returns only transactions
// whose commit frame is valid; it stops at the first frame that is missing, torn or invalid.

import Foundation
import LynxSupport

/// Why replay stopped.
public enum WALStopReason: String, Error, Sendable, Equatable, CaseIterable {
    /// The file ends exactly after a commit frame (or right after the header): a clean end.
    case endOfLog
    /// The file ends inside a frame (header or payload), or the next frame header is all zeros:
    /// the writer died mid-write. Not corruption.
    case tornFrame
    /// The file ends on a frame boundary after frames without a commit frame: a transaction was cut
    /// between frames. Not corruption; those frames are dropped.
    case uncommittedTail
    /// The next frame is intact but carries other salts: a frame of an older generation left behind by a
    /// rollback-free reset (normal), never part of this generation.
    case saltMismatch
    /// The frame header's own checksum (bytes 24..<28) does not match: garbage, a stale partial frame, or a flipped bit.
    case frameHeaderChecksumMismatch
    /// The cumulative checksum does not match: the payload or an earlier byte changed, or a stale frame.
    case checksumMismatch
    /// A checksummed header claims an impossible payload length (over the limit, or wrong for its operation).
    case badLength
    /// A checksummed frame carries an LSN other than the next one.
    case lsnMismatch
    /// A checksummed frame carries an unknown operation, unknown flags, or a payload that does not parse.
    case badOperation
    /// The file header is missing or invalid: the file holds no valid frames.
    case badHeader

    /// The file simply ends early (writer died). Never a sign of corruption.
    public var isTorn: Bool { self == .tornFrame || self == .uncommittedTail }
}

/// What a replay found.
public struct WALRecoveryResult: Sendable, Equatable {
    public var path: String
    /// The file header, nil when it is missing or invalid (`stopReason == .badHeader`, see `headerError`).
    public var header: WALHeader?
    public var headerError: String?
    public var stopReason: WALStopReason
    /// Offset of the first byte that was not accepted (the frame that failed, or the file size).
    public var stopOffset: UInt64
    /// End of the last valid commit frame (the header size when there is none): where a writer resumes.
    public var validEndOffset: UInt64
    /// Cumulative checksum at `validEndOffset` (the header checksum when there are no frames).
    public var runningChecksum: UInt32
    /// LSN of the last committed frame; header.firstLSN - 1 when there is none (0 without a header).
    public var lastLSN: UInt64
    public var committedTransactions: Int
    public var committedFrames: Int
    /// Valid frames after the last commit frame that were dropped (an incomplete transaction).
    public var droppedUncommittedFrames: Int
    public var fileSize: UInt64
    /// When replay stopped early: offset of a later frame of THIS generation (matching salts, valid header
    /// check, LSN >= the one expected at the stop point). Its presence means committed data probably lies beyond
    /// the stop point, i.e. real corruption rather than a torn or stale tail. nil otherwise.
    public var laterFrameOffset: UInt64?

    /// True when the stop looks like damage rather than a torn write or stale bytes: a later frame of this
    /// generation exists, or a checksummed frame is malformed, or a non-empty file has a broken header.
    public var isCorruption: Bool {
        if laterFrameOffset != nil { return true }
        switch stopReason {
        case .badLength, .lsnMismatch, .badOperation: return true
        case .badHeader: return fileSize >= UInt64(WALFormat.headerSize)
        default: return false
        }
    }

    /// Bytes after the last valid commit frame (torn, stale or damaged).
    public var bytesAfterValidEnd: UInt64 { fileSize > validEndOffset ? fileSize - validEndOffset : 0 }
}

/// Reads a WAL file front to back, streaming committed transactions to a callback.
///
/// Memory use is one read buffer (default 1 MiB, grown for larger frames) plus the operations of one
/// pending transaction. A reader may be used while a WALWriter appends to the same file, but then sees
/// some prefix of it. Any thread; no shared state.
public struct WALReader: Sendable {
    public let path: String
    public let io: FileIO
    public let bufferSize: Int

    public init(path: String, io: FileIO = SystemFileIO(), bufferSize: Int = 1 << 20) {
        self.path = path
        self.io = io
        self.bufferSize = max(bufferSize, 4096)
    }

    /// Replays the log: calls `onTransaction(commitLSN, ops)` for every committed transaction, in order.
    /// Frames after the last commit frame are never delivered. Throws only for I/O errors (and whatever
    /// `onTransaction` throws); damage is reported in the result.
    public func recover(_ onTransaction: (UInt64, [WALOperation]) throws -> Void) throws -> WALRecoveryResult {
        try scan(onFrame: { _, _ in }, onTransaction)
    }

    /// The replay itself; `onFrame(offset, frame)` sees every valid frame as it is accepted, before its
    /// transaction is known to commit (`WALReader.frames` builds on it).
    func scan(onFrame: (UInt64, WALFrame) throws -> Void,
              _ onTransaction: (UInt64, [WALOperation]) throws -> Void) throws -> WALRecoveryResult {
        let file = try io.open(path, mode: .readOnly)
        defer { try? io.close(file) }
        let size = try io.fileSize(file)
        var window = ReadWindow(io: io, file: file, fileSize: size, chunk: bufferSize)
        defer { window.deallocate() }

        var result = WALRecoveryResult(path: path, header: nil, headerError: nil, stopReason: .badHeader,
                                       stopOffset: 0, validEndOffset: 0, runningChecksum: 0, lastLSN: 0,
                                       committedTransactions: 0, committedFrames: 0, droppedUncommittedFrames: 0,
                                       fileSize: size, laterFrameOffset: nil)
        let hsize = UInt64(WALFormat.headerSize)
        let headerBytes: [UInt8]
        if size >= hsize {
            let p = try window.bytes(at: 0, count: WALFormat.headerSize)
            headerBytes = [UInt8](UnsafeRawBufferPointer(start: p, count: WALFormat.headerSize))
        } else {
            headerBytes = []
        }
        let header: WALHeader
        switch WALHeader.decode(headerBytes) {
        case .failure(let e):
            result.headerError = size == 0 ? "file is empty" : e.reason
            return result
        case .success(let h):
            header = h
        }
        result.header = header
        result.validEndOffset = hsize
        result.runningChecksum = header.checksum
        result.lastLSN = header.firstLSN &- 1

        var offset = hsize
        var crc = header.checksum
        var expectedLSN = header.firstLSN
        var pending: [WALOperation] = []
        let stop: WALStopReason
        scan: while true {
            if offset == size {
                stop = pending.isEmpty ? .endOfLog : .uncommittedTail
                break
            }
            if size - offset < UInt64(WALFormat.frameHeaderSize) {
                stop = .tornFrame
                break
            }
            let h = try window.bytes(at: offset, count: WALFormat.frameHeaderSize)
            let len: Int
            switch WALCodec.checkFrameHeader(h, salt1: header.salt1, salt2: header.salt2) {
            case .failure(.tornFrame) where try window.isZero(from: offset):
                // Zeros to the end of the file: space the writer preallocated and never filled. The log ends here.
                stop = pending.isEmpty ? .endOfLog : .uncommittedTail
                break scan
            case .failure(.frameHeaderChecksumMismatch) where try window.isZero(from: offset + UInt64(WALFormat.frameHeaderSize)):
                stop = .tornFrame  // a header cut short inside preallocated zeros
                break scan
            case .failure(let r): stop = r; break scan
            case .success(let n): len = n
            }
            let total = WALFormat.frameHeaderSize + len
            if size - offset < UInt64(total) {
                stop = .tornFrame
                break
            }
            let f = try window.bytes(at: offset, count: total)
            switch WALCodec.checkFrameBody(f, payloadLength: len, seed: crc, expectedLSN: expectedLSN) {
            case .failure(let r):
                stop = r
                break scan
            case .success(let frame):
                try onFrame(offset, frame)
                pending.append(frame.operation)
                crc = frame.checksum
                expectedLSN &+= 1
                offset += UInt64(total)
                if frame.isCommit {
                    let ops = pending
                    pending.removeAll(keepingCapacity: true)
                    result.committedTransactions += 1
                    result.committedFrames += ops.count
                    result.validEndOffset = offset
                    result.runningChecksum = crc
                    result.lastLSN = frame.lsn
                    try onTransaction(frame.lsn, ops)
                }
            }
        }
        result.stopReason = stop
        result.stopOffset = offset
        result.droppedUncommittedFrames = pending.count
        if offset < size {
            // Expected LSN at the stop point: the first LSN not committed.
            result.laterFrameOffset = try window.findFrame(after: offset, salt1: header.salt1, salt2: header.salt2,
                                                           minLSN: result.lastLSN &+ 1)
        }
        return result
    }

    /// The file's header alone (nil with the reason when it is missing or invalid) and the file's size.
    public func readHeader() throws -> (header: WALHeader?, error: String?, size: UInt64) {
        let file = try io.open(path, mode: .readOnly)
        defer { try? io.close(file) }
        let size = try io.fileSize(file)
        var bytes = [UInt8](repeating: 0, count: WALFormat.headerSize)
        let n = try bytes.withUnsafeMutableBytes { try io.preadFully(file, into: $0, at: 0) }
        switch WALHeader.decode(Array(bytes[0..<n])) {
        case .success(let header): return (header, nil, size)
        case .failure(let e): return (nil, size == 0 ? "file is empty" : e.reason, size)
        }
    }

    /// Replays the whole log into memory. Convenient for small logs and tests; prefer `recover(_:)`.
    public func readAll() throws -> (result: WALRecoveryResult, transactions: [(lsn: UInt64, ops: [WALOperation])]) {
        var txs: [(lsn: UInt64, ops: [WALOperation])] = []
        let r = try recover { lsn, ops in txs.append((lsn, ops)) }
        return (r, txs)
    }
}

/// A sliding read buffer over a file.
struct ReadWindow {
    let io: FileIO
    let file: OpenFile
    let fileSize: UInt64
    let chunk: Int
    var buffer: UnsafeMutableRawBufferPointer
    var start: UInt64 = 0
    var length = 0

    init(io: FileIO, file: OpenFile, fileSize: UInt64, chunk: Int) {
        self.io = io
        self.file = file
        self.fileSize = fileSize
        self.chunk = chunk
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    }

    func deallocate() { buffer.deallocate() }

    /// A pointer to `count` bytes at `offset` (the caller guarantees offset + count <= fileSize).
    /// Valid until the next call.
    mutating func bytes(at offset: UInt64, count: Int) throws -> UnsafeRawPointer {
        if offset >= start && offset + UInt64(count) <= start + UInt64(length) {
            return UnsafeRawPointer(buffer.baseAddress! + Int(offset - start))
        }
        if count > buffer.count {
            buffer.deallocate()
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, chunk), alignment: 16)
        }
        let want = Int(min(UInt64(buffer.count), fileSize - offset))
        let n = try io.preadFully(file, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
        start = offset
        length = n
        if n < count {
            throw StorageError.io(SyscallFailure(syscall: "pread", path: file.path, errno: EIO,
                                                 message: "file shrank while reading (got \(n) of \(count) bytes at \(offset))"))
        }
        return UnsafeRawPointer(buffer.baseAddress!)
    }

    /// True when every byte from `offset` to the end of the file is zero.
    mutating func isZero(from offset: UInt64) throws -> Bool {
        var off = offset
        while off < fileSize {
            let n = Int(min(UInt64(chunk), fileSize - off))
            let p = try bytes(at: off, count: n)
            var i = 0
            while i + 8 <= n {
                if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
                i += 8
            }
            while i < n {
                if p.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
                i += 1
            }
            off += UInt64(n)
        }
        return true
    }

    /// The first offset > `after` holding a frame header of this generation (valid header check, matching
    /// salts, LSN >= minLSN), or nil.
    mutating func findFrame(after: UInt64, salt1: UInt32, salt2: UInt32, minLSN: UInt64) throws -> UInt64? {
        let hs = UInt64(WALFormat.frameHeaderSize)
        var off = after + 1
        while off + hs <= fileSize {
            let n = Int(min(UInt64(chunk), fileSize - off))
            let p = try bytes(at: off, count: n)
            let last = n - Int(hs)
            var i = 0
            while i <= last {
                if p.loadLE32(at: i + 16) == salt1 && p.loadLE32(at: i + 20) == salt2
                    && lynxCRC(0, p + i, 24) == p.loadLE32(at: i + 24) && p.loadLE64(at: i + 8) >= minLSN {
                    return off + UInt64(i)
                }
                i += 1
            }
            off += UInt64(last + 1)
        }
        return nil
    }
}

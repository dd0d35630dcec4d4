import LynxSupport

/// One frame of a log file as `WALReader.frames` reports it: what is stored, and what replay makes of it.
public struct WALFrameReport: Sendable, Equatable {
    public enum Replay: Sendable, Equatable {
        /// Valid and part of a committed transaction: replay applies it (unless a snapshot already holds its LSN).
        case committed
        /// Valid, but its transaction has no commit frame before replay stops: dropped.
        case uncommitted
        /// The frame at which replay stopped, and why.
        case stop(WALStopReason)
        /// A frame after the stop (found by its length or by searching for the next frame of this generation):
        /// never replayed.
        case afterStop
    }

    /// Byte offset of the frame header in the file.
    public var offset: UInt64
    /// Header and payload bytes, as the header's length says (which a damaged header may get wrong).
    public var size: UInt64
    /// As stored (bytes 8..<16 of the frame header).
    public var lsn: UInt64
    public var operationCode: UInt8
    public var isCommit: Bool
    /// The decoded operation; nil when the frame is cut short or its payload does not parse.
    public var operation: WALOperation?
    public var replay: Replay
    /// What is wrong with the frame itself; nil when its header check and cumulative checksum hold. A frame after
    /// the stop is checked against the checksum stored in the frame before it (`chainChecked`), since the chain
    /// from the file header is broken there.
    public var problem: WALStopReason?
    /// False for the first frame after a jump (a damaged header's length could not be trusted, so the next frame
    /// was found by searching): its cumulative checksum has no predecessor to chain from and is not checked.
    public var chainChecked: Bool
}

extension WALReader {
    /// Every frame of the file in order, through `visit`, with what replay makes of it: the valid prefix exactly
    /// as `recover` reads it (the same scan), then the frame where replay stopped and the frames of this
    /// generation after it (by length where the header can be trusted, else the next frame found by search;
    /// stale frames of older generations and preallocated zeros are not listed). Returns `recover`'s result.
    /// Reads only; the visitor may see a frame's transaction outcome only at its commit frame (frames are held
    /// back until then), so memory is one transaction.
    public func frames(_ visit: (WALFrameReport) throws -> Void) throws -> WALRecoveryResult {
        var pending: [WALFrameReport] = []
        var lastValid: (checksum: UInt32, lsn: UInt64)?
        let result = try scan(onFrame: { offset, frame in
            lastValid = (frame.checksum, frame.lsn)
            pending.append(WALFrameReport(
                offset: offset, size: UInt64(frame.size), lsn: frame.lsn, operationCode: frame.operation.code,
                isCommit: frame.isCommit, operation: frame.operation, replay: .uncommitted, problem: nil, chainChecked: true))
            if frame.isCommit {
                for var report in pending {
                    report.replay = .committed
                    try visit(report)
                }
                pending.removeAll(keepingCapacity: true)
            }
        }, { _, _ in })
        for report in pending { try visit(report) }
        guard let header = result.header, result.stopOffset < result.fileSize,
              result.stopReason != .endOfLog, result.stopReason != .uncommittedTail else { return result }
        try walkAfterStop(result, header: header, after: lastValid ?? (result.runningChecksum, result.lastLSN), visit)
        return result
    }

    /// The frames from the stop point on: the failing frame, then each frame of this generation after it.
    /// `after`: the checksum and LSN of the last valid frame (the header's checksum and firstLSN - 1 if none).
    private func walkAfterStop(_ result: WALRecoveryResult, header: WALHeader, after: (checksum: UInt32, lsn: UInt64),
                               _ visit: (WALFrameReport) throws -> Void) throws {
        let file = try io.open(path, mode: .readOnly)
        defer { try? io.close(file) }
        let size = result.fileSize
        var window = ReadWindow(io: io, file: file, fileSize: size, chunk: bufferSize)
        defer { window.deallocate() }
        let hs = UInt64(WALFormat.frameHeaderSize)
        var offset = result.stopOffset
        var previous: (checksum: UInt32, lsn: UInt64)? = after
        var first = true
        while size - offset >= hs {
            if !first, try window.isZero(from: offset) { return }  // preallocated space: the file holds no more frames
            let h = try window.bytes(at: offset, count: WALFormat.frameHeaderSize)
            let lsn = h.loadLE64(at: 8)
            let stored = h.loadLE32(at: 28)
            let code = h.load(fromByteOffset: 4, as: UInt8.self)
            let commit = h.load(fromByteOffset: 5, as: UInt8.self) & WALFormat.flagCommit != 0
            let claimed = UInt64(h.loadLE32(at: 0))
            var problem: WALStopReason?
            var operation: WALOperation?
            var stepsByLength = false
            switch WALCodec.checkFrameHeader(h, salt1: header.salt1, salt2: header.salt2) {
            case .failure(let r):
                problem = r
            case .success(let len):
                if size - offset < hs + UInt64(len) {
                    problem = .tornFrame
                } else {
                    stepsByLength = true
                    let f = try window.bytes(at: offset, count: WALFormat.frameHeaderSize + len)
                    operation = WALCodec.decodeOperation(code, f + WALFormat.frameHeaderSize, len)
                    if let previous {
                        if case .failure(let r) = WALCodec.checkFrameBody(f, payloadLength: len, seed: previous.checksum,
                                                                          expectedLSN: previous.lsn &+ 1) {
                            problem = r
                        }
                    } else if operation == nil {
                        problem = .badOperation
                    }
                }
            }
            if first && problem == nil { problem = result.stopReason }  // e.g. a frame after an uncommitted one
            // Later frames of older generations are stale bytes a reset left, not frames of this log: not listed.
            if first || problem != .saltMismatch {
                try visit(WALFrameReport(
                    offset: offset, size: hs + claimed, lsn: lsn, operationCode: code, isCommit: commit, operation: operation,
                    replay: first ? .stop(result.stopReason) : .afterStop, problem: problem, chainChecked: previous != nil))
            }
            if stepsByLength {
                offset += hs + claimed
                previous = (stored, lsn)
            } else {
                guard let next = try window.findFrame(after: offset, salt1: header.salt1, salt2: header.salt2,
                                                      minLSN: result.lastLSN &+ 1) else { return }
                offset = next
                previous = nil
            }
            first = false
        }
    }
}

extension WALOperation {
    /// The operation's code in a frame header (docs/STORAGE_FORMATS.md).
    public var code: UInt8 {
        switch self {
        case .upsert: return WALFormat.opUpsert
        case .delete: return WALFormat.opDelete
        case .createMetadataIndex: return WALFormat.opCreateMetadataIndex
        case .dropMetadataIndex: return WALFormat.opDropMetadataIndex
        }
    }
}

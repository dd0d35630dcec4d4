import Foundation
import LynxSupport

/// Appends transactions to a WAL file. Rollback-free (SQLite-style): a reset rewrites the header with new
/// salts and lets new frames overwrite the old ones in place; stale frames die by their salts.
///
/// Concurrency contract:
/// - `append`, `reset` and `close` are called by one thread at a time (the engine's writer thread).
/// - `sync()` may be called from any other thread at the same time as `append` (group commit). It holds
///   the internal lock only to read/update counters; the fdatasync itself runs without it, so appends
///   continue while a sync is in flight.
/// - The counters may be read from any thread.
/// - `close()` must not race with `sync()` or `append()`.
///
/// Failure contract:
/// - A failed append (error or short write) does not move `endOffset`, `lastLSN` or the checksum chain:
///   nothing of it is counted, and the next append writes from the same offset, overwriting the failed
///   bytes. The writer also truncates the file back to `endOffset` (best effort) so no partial frame lingers.
/// - fsync failures are never retried. After `sync()` (or `reset`) fails the writer is poisoned: every
///   later `append`/`sync`/`reset` throws `.syncFailed` with the original failure.
public final class WALWriter: @unchecked Sendable {
    public let path: String
    public let io: FileIO

    private let lock = PlainMutex<Void>(())
    private var file: OpenFile?
    private var header: WALHeader
    private var end: UInt64
    private var crc: UInt32
    private var last: UInt64
    private var durable: UInt64
    private var frames: Int = 0
    private var sinceReset: UInt64 = 0
    private var written: UInt64 = 0
    private var poison: StorageError?
    private var scratch: UnsafeMutableRawPointer
    private var scratchSize: Int
    /// The file's size as this writer knows it: appends below it overwrite bytes that already exist.
    private var allocated: UInt64 = 0
    /// Zeros written ahead of the appends when they reach `allocated`, so that most appends overwrite existing
    /// blocks and an fdatasync carries no file-size change (no journal commit on ext4; SQLite gets the same by
    /// rewriting its WAL in place). 0 disables. A reader takes zeros to the end of the file as the end of the log.
    public static let defaultPreallocationBytes: UInt64 = 1 << 20
    private let preallocationBytes: UInt64
    /// Appends store their frames through a shared mapping of the file instead of a pwrite, wherever zeros were
    /// written ahead (docs/STORAGE_FORMATS.md, "Mapped appends"). Needs preallocation; pwrite wherever the mapping is refused.
    private let mapAppends: Bool
    private var mapping: UnsafeMutableRawPointer?
    private var mappingLength = 0
    /// The system refused to map the file: pwrite from then on.
    private var mappingRefused = false
    private let firstMappingBytes: UInt64
    /// Mapped pages below this offset have been released (`releaseMapped`).
    private var releasedBelow: UInt64 = 0
    public static let defaultFirstMappingBytes: UInt64 = 256 << 20

    // MARK: opening

    /// Creates (or truncates to empty) the log at `path` and writes a fresh header with random salts.
    /// The header and the directory entry are fsynced before this returns.
    /// `firstMappingBytes`: the address space the first mapping takes (with `mapAppends`); it is remade twice as
    /// long as the zeros written ahead whenever they outgrow it.
    public convenience init(creating path: String, checkpointSeq: UInt64 = 0, firstLSN: UInt64 = 1,
                            preallocationBytes: UInt64 = WALWriter.defaultPreallocationBytes,
                            mapAppends: Bool = false, firstMappingBytes: UInt64 = WALWriter.defaultFirstMappingBytes,
                            io: FileIO = SystemFileIO()) throws {
        try self.init(path: path, checkpointSeq: checkpointSeq, firstLSN: firstLSN, mode: .createTruncate,
                      truncateAbove: nil, preallocationBytes: preallocationBytes, mapAppends: mapAppends,
                      firstMappingBytes: firstMappingBytes, io: io)
    }

    /// Starts a new generation in an existing log file without rewriting it (rollback-free, as `reset`): a new
    /// header with new salts goes to offset 0 and the old frames die by their salts, being overwritten as the
    /// new generation grows. The file is truncated to its header only when it is larger than `truncateAbove`.
    /// Creates the file when it does not exist. Header (and directory entry) fsynced before this returns.
    /// PRECONDITION: nothing in the file is needed any more (a snapshot covers it).
    public convenience init(reusing path: String, checkpointSeq: UInt64, firstLSN: UInt64, truncateAbove: UInt64,
                            preallocationBytes: UInt64 = WALWriter.defaultPreallocationBytes,
                            mapAppends: Bool = false, io: FileIO = SystemFileIO()) throws {
        try self.init(path: path, checkpointSeq: checkpointSeq, firstLSN: firstLSN, mode: .createOrOpen,
                      truncateAbove: truncateAbove, preallocationBytes: preallocationBytes, mapAppends: mapAppends,
                      firstMappingBytes: WALWriter.defaultFirstMappingBytes, io: io)
    }

    private init(path: String, checkpointSeq: UInt64, firstLSN: UInt64, mode: OpenMode, truncateAbove: UInt64?,
                 preallocationBytes: UInt64, mapAppends: Bool, firstMappingBytes: UInt64, io: FileIO) throws {
        self.path = path
        self.io = io
        self.preallocationBytes = preallocationBytes
        self.mapAppends = mapAppends && preallocationBytes > 0
        self.firstMappingBytes = firstMappingBytes
        let f = try io.open(path, mode: mode)
        var h = WALHeader(checkpointSeq: checkpointSeq, salt1: UInt32.random(in: .min ... .max),
                          salt2: UInt32.random(in: .min ... .max), firstLSN: firstLSN)
        do {
            if truncateAbove != nil {  // reusing an existing file
                // Old frames must fail the salt check: make salt1 differ from the old header's for certain.
                var old = [UInt8](repeating: 0, count: WALFormat.headerSize)
                let n = try old.withUnsafeMutableBytes { try io.preadFully(f, into: $0, at: 0) }
                if n == WALFormat.headerSize, case .success(let previous) = WALHeader.decode(old) {
                    h = WALHeader(checkpointSeq: checkpointSeq, salt1: previous.salt1 &+ 1, salt2: h.salt2, firstLSN: firstLSN)
                }
            }
            var size = try io.fileSize(f)
            if let truncateAbove, size > truncateAbove {
                try io.ftruncate(f, to: UInt64(WALFormat.headerSize))
                size = UInt64(WALFormat.headerSize)
            }
            var zeroed = false
            if truncateAbove != nil && preallocationBytes > 0 && size > UInt64(WALFormat.headerSize) {
                // A reused file: turn the old generation's frames into zeros to the end of the file (a metadata
                // operation), so that this generation writes zeros ahead and then overwrites dirty cached pages,
                // as in a fresh file: overwriting the old frames' clean cached pages costs more CPU per append
                // (BENCHMARKS.md, "Storage format measurements"). Where the filesystem cannot, the old frames
                // stay and die by their salts.
                zeroed = (try? io.zeroRange(f, from: UInt64(WALFormat.headerSize), count: size - UInt64(WALFormat.headerSize))) != nil
            }
            try h.encoded().withUnsafeBytes { try io.pwriteFully(f, $0, at: 0) }
            try io.fsync(f)                                  // header durable
            try io.fsyncDirectory(parentDirectory(of: path)) // the directory entry durable
            // Zeros are written ahead from here on: in a zeroed file right after the header, else past the end
            // (the header write extends a file shorter than a header).
            allocated = zeroed ? UInt64(WALFormat.headerSize) : max(size, UInt64(WALFormat.headerSize))
        } catch {
            try? io.close(f)
            throw error
        }
        file = f
        header = h
        end = UInt64(WALFormat.headerSize)
        crc = h.checksum
        last = firstLSN &- 1
        durable = last
        scratchSize = 64 << 10
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
    }

    /// Resumes the log that `recovery` describes (from `WALReader(path:).recover`): the next append goes
    /// to `recovery.validEndOffset`, continuing its checksum chain and LSNs. When the stop was a torn write
    /// (`stopReason.isTorn`), the torn tail is truncated away; otherwise the bytes after the valid end are left
    /// in place (stale frames of an older generation, or damaged data kept for inspection) and get overwritten
    /// by later appends. The file is then fdatasynced once, so the recovered prefix is durable before it is
    /// reported as `durableLSN`. Throws `.corrupt` when the header was invalid, `.syncFailed` when that sync fails.
    public init(resuming recovery: WALRecoveryResult, preallocationBytes: UInt64 = WALWriter.defaultPreallocationBytes,
                mapAppends: Bool = false, io: FileIO = SystemFileIO()) throws {
        guard let h = recovery.header else {
            throw StorageError.corrupt("cannot resume \(recovery.path): \(recovery.headerError ?? "invalid header")")
        }
        self.path = recovery.path
        self.io = io
        self.preallocationBytes = preallocationBytes
        self.mapAppends = mapAppends && preallocationBytes > 0
        self.firstMappingBytes = WALWriter.defaultFirstMappingBytes
        let f = try io.open(recovery.path, mode: .readWrite)
        do {
            if recovery.stopReason.isTorn, try io.fileSize(f) > recovery.validEndOffset {
                try io.ftruncate(f, to: recovery.validEndOffset)
            }
            // What recovery read may exist only in the page cache (the previous process died, the kernel did
            // not): make it durable before reporting it as durableLSN.
            try io.fdatasync(f)
            allocated = try io.fileSize(f)
        } catch {
            try? io.close(f)
            throw error
        }
        file = f
        header = h
        end = recovery.validEndOffset
        crc = recovery.runningChecksum
        last = recovery.lastLSN
        durable = recovery.lastLSN // fdatasynced above
        frames = recovery.committedFrames
        sinceReset = recovery.validEndOffset - UInt64(WALFormat.headerSize)
        scratchSize = 64 << 10
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
    }

    /// Opens the log at `path` for appending: replays it through `onTransaction` and resumes it, or creates
    /// it when it does not exist or is shorter than a header (a creation that never finished).
    /// Throws `.corrupt` when a full-size header is invalid (the caller decides whether to recreate).
    public static func open(path: String, io: FileIO = SystemFileIO(), checkpointSeq: UInt64 = 0, firstLSN: UInt64 = 1,
                            mapAppends: Bool = false,
                            onTransaction: (UInt64, [WALOperation]) throws -> Void) throws -> (writer: WALWriter, recovery: WALRecoveryResult?) {
        if !io.fileExists(path) {
            return (try WALWriter(creating: path, checkpointSeq: checkpointSeq, firstLSN: firstLSN, mapAppends: mapAppends, io: io), nil)
        }
        let r = try WALReader(path: path, io: io).recover(onTransaction)
        if r.header == nil && r.fileSize < UInt64(WALFormat.headerSize) {
            return (try WALWriter(creating: path, checkpointSeq: checkpointSeq, firstLSN: firstLSN, mapAppends: mapAppends, io: io), r)
        }
        return (try WALWriter(resuming: r, mapAppends: mapAppends, io: io), r)
    }

    deinit {
        unmap()
        if let f = file { try? io.close(f) }
        scratch.deallocate()
    }

    // MARK: writing

    /// Appends one transaction (1 or more operations) with ONE pwrite at the valid end (one copy into the shared
    /// mapping instead, with `mapAppends`, wherever zeros were written ahead). Every frame gets the
    /// next LSN; the last carries the commit flag. Returns the commit frame's LSN. Not durable until `sync()`.
    /// Throws `.noSpace` (ENOSPC/EDQUOT/short write), `.io`, `.invalidArgument`, or `.syncFailed` when poisoned;
    /// on any throw nothing was counted (see the failure contract).
    @discardableResult
    public func append(_ ops: [WALOperation]) throws -> UInt64 {
        let size = try WALCodec.encodedSize(ops)
        return try locked {
            if let p = poison { throw p }
            guard let f = file else { throw StorageError.closed("WAL \(path)") }
            if size > scratchSize {
                scratch.deallocate()
                scratchSize = max(size, scratchSize * 2)
                scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
            }
            let first = last &+ 1
            let newCRC = WALCodec.encode(ops, into: scratch, firstLSN: first, salt1: header.salt1, salt2: header.salt2, seed: crc)
            do {
                if end + UInt64(size) > allocated && preallocationBytes > 0 {
                    try preallocate(f, through: end + UInt64(size))
                }
                if let m = mapped(f, through: end + UInt64(size)) {
                    (m + Int(end)).copyMemory(from: scratch, byteCount: size)
                    releaseWrittenPages(m, below: end + UInt64(size))
                } else {
                    try io.pwriteFully(f, UnsafeRawBufferPointer(start: scratch, count: size), at: end)
                }
            } catch {
                // Drop whatever part of the transaction reached the file. Best effort: shrinking needs no space,
                // and if it fails the bytes are overwritten by the next append and fail validation meanwhile.
                if (try? io.ftruncate(f, to: end)) != nil { allocated = end }
                throw error
            }
            end += UInt64(size)
            crc = newCRC
            last = first &+ UInt64(ops.count - 1)
            frames += ops.count
            sinceReset += UInt64(size)
            written += UInt64(size)
            return last
        }
    }

    /// Extends the file with zeros from `allocated` to the next multiple of `preallocationBytes` past `needed`
    /// (pwrites of `preallocationPiece`). The caller holds the lock. On failure `allocated` stays and the caller
    /// truncates.
    private func preallocate(_ f: OpenFile, through needed: UInt64) throws {
        let target = (needed / preallocationBytes + 1) * preallocationBytes
        // In pieces of 64 KiB: one large write puts its bytes in large page-cache folios, and every later small
        // append into such a folio walks all of its block buffers (ext4_block_write_begin, block_commit_write).
        // BENCHMARKS.md ("Preallocation in 64 KiB pieces") has the figures.
        let piece = Int(min(Self.preallocationPiece, target - allocated))
        // calloc'd memory reads as the shared zero page until written: no memset, no resident copy.
        guard let zeros = calloc(piece, 1) else { throw StorageError.noSpace(SyscallFailure(syscall: "calloc", path: path, errno: ENOMEM, message: "cannot allocate \(piece) bytes of zeros")) }
        defer { free(zeros) }
        var at = allocated
        while at < target {
            let count = Int(min(UInt64(piece), target - at))
            try io.pwriteFully(f, UnsafeRawBufferPointer(start: zeros, count: count), at: at)
            at += UInt64(count)
        }
        let before = allocated
        allocated = target
        if let m = mapping, UInt64(mappingLength) >= target { prefault(m, from: before) }
    }

    /// The mapping, when the bytes below `needed` may be stored through it: appends are mapped, `needed` lies
    /// within the zeros written ahead (so within the file: a store past its end would raise SIGBUS), and the
    /// mapping reaches it (it is made, or remade twice as long, here). nil: pwrite instead. The caller holds
    /// the lock.
    private func mapped(_ f: OpenFile, through needed: UInt64) -> UnsafeMutableRawPointer? {
        guard mapAppends, needed <= allocated else { return nil }
        if let m = mapping, UInt64(mappingLength) >= needed { return m }
        guard !mappingRefused else { return nil }
        unmap()
        let page = UInt64(Self.pageSize)
        let length = (max(firstMappingBytes, allocated * 2) + page - 1) / page * page
        do {
            mapping = try io.mapShared(f, length: Int(length))
            mappingLength = Int(length)
        } catch {
            mappingRefused = true  // e.g. a filesystem without shared mappings: the pwrite path still works
            return nil
        }
        prefault(mapping!, from: end)
        return mapping
    }

    /// Makes the mapped pages from `offset` (rounded down to a page) to `allocated` present and writable.
    private func prefault(_ m: UnsafeMutableRawPointer, from offset: UInt64) {
        let start = offset / UInt64(Self.pageSize) * UInt64(Self.pageSize)
        guard allocated > start else { return }
        io.prefaultWritable(m + Int(start), length: Int(allocated - start))
    }

    /// Drops the fully written pages from the mapping once a `preallocationBytes` stretch of them has built up:
    /// one madvise (one TLB shootdown) per stretch, where leaving them mapped costs a write-protection and a TLB
    /// shootdown per page each time the kernel writes them back (seen as smp_call_function_many_cond in the
    /// committer's fdatasync). Their contents stay in the page cache, dirty.
    private func releaseWrittenPages(_ m: UnsafeMutableRawPointer, below offset: UInt64) {
        let page = UInt64(Self.pageSize)
        let full = offset / page * page
        guard full >= releasedBelow + preallocationBytes else { return }
        io.releaseMapped(m + Int(releasedBelow), length: Int(full - releasedBelow))
        releasedBelow = full
    }

    private func unmap() {
        if let m = mapping { io.unmap(m, length: mappingLength) }
        mapping = nil
        mappingLength = 0
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    static let preallocationPiece: UInt64 = 64 << 10

    /// Makes every transaction whose `append` returned before this call durable (fdatasync), and returns the
    /// LSN now known durable (>= the last LSN appended before the call). Appends racing with the sync may or
    /// may not be covered; the returned LSN never claims them. Skips the syscall when nothing new was appended.
    /// Never retries: a failure poisons the writer and throws `.syncFailed`.
    @discardableResult
    public func sync() throws -> UInt64 {
        let (f, target, done): (OpenFile, UInt64, Bool) = try locked {
            if let p = poison { throw p }
            guard let f = file else { throw StorageError.closed("WAL \(path)") }
            return (f, last, last == durable)
        }
        if done { return target }
        do {
            try io.fdatasync(f)
        } catch {
            let e = Self.asSyncFailure(error, path: path)
            locked { if poison == nil { poison = e } }
            throw e
        }
        return locked {
            if target > durable { durable = target }
            return durable
        }
    }

    /// Rollback-free restart of the log. PRECONDITION: everything up to `lastLSN` is durable elsewhere
    /// (a checkpoint snapshot was written and fsynced), because the old frames become invalid.
    ///
    /// Writes a new header at offset 0 (salt1 + 1, fresh random salt2, firstLSN = lastLSN + 1,
    /// the given checkpoint sequence); if the file is larger than `truncateAbove` bytes it is truncated to
    /// the header; then fsyncs. Old frames are not erased: the next appends overwrite them, and those beyond
    /// the new end fail the salt check. LSNs keep increasing across resets. On failure the writer is poisoned.
    public func reset(checkpointSeq: UInt64, truncateAbove: UInt64 = 64 << 20) throws {
        try locked {
            if let p = poison { throw p }
            guard let f = file else { throw StorageError.closed("WAL \(path)") }
            var salt2 = UInt32.random(in: .min ... .max)
            if salt2 == header.salt2 { salt2 &+= 1 }
            let h = WALHeader(checkpointSeq: checkpointSeq, salt1: header.salt1 &+ 1, salt2: salt2, firstLSN: last &+ 1)
            do {
                try h.encoded().withUnsafeBytes { try io.pwriteFully(f, $0, at: 0) }
                if try io.fileSize(f) > truncateAbove {
                    try io.ftruncate(f, to: UInt64(WALFormat.headerSize))
                }
                try io.fsync(f) // new header (and truncation) durable before any new frame is acknowledged
                allocated = try io.fileSize(f)
            } catch {
                // The on-disk header may or may not be the new one: refuse further use.
                // Reported as .syncFailed whatever the errno: the writer is dead, like after a failed fsync.
                let e = Self.asSyncFailure(error, path: path)
                poison = e
                throw e
            }
            header = h
            end = UInt64(WALFormat.headerSize)
            crc = h.checksum
            frames = 0
            sinceReset = 0
            releasedBelow = 0
            durable = last
        }
    }

    /// Closes the file. Does not sync. Later calls throw `.closed`.
    public func close() throws {
        try locked {
            guard let f = file else { return }
            file = nil
            unmap()
            try io.close(f)
        }
    }

    private static func asSyncFailure(_ error: Error, path: String) -> StorageError {
        switch error as? StorageError {
        case .syncFailed(let f)?: return .syncFailed(f)
        case .noSpace(let f)?, .io(let f)?, .notFound(let f)?: return .syncFailed(f)
        default: return .syncFailed(SyscallFailure(syscall: "fdatasync", path: path, errno: EIO, message: "\(error)"))
        }
    }

    // MARK: counters (any thread)

    private func locked<T>(_ body: () throws -> T) rethrows -> T { try lock.withLock { _ in try body() } }

    /// Offset just past the last committed frame: where the next append goes.
    public var endOffset: UInt64 { locked { end } }
    /// LSN of the last appended (not necessarily durable) frame.
    public var lastLSN: UInt64 { locked { last } }
    /// Highest LSN known durable (synced, recovered from disk, or covered by the checkpoint at reset).
    public var durableLSN: UInt64 { locked { durable } }
    /// Frames since the header (since the last reset, or in the resumed generation).
    public var frameCount: Int { locked { frames } }
    /// Frame bytes since the header (endOffset - header size).
    public var bytesSinceReset: UInt64 { locked { sinceReset } }
    /// Bytes appended by this writer object in total (across resets).
    public var bytesWrittenTotal: UInt64 { locked { written } }
    /// The current generation's header.
    public var currentHeader: WALHeader { locked { header } }
    public var checkpointSeq: UInt64 { locked { header.checkpointSeq } }
    /// The error that poisoned the writer, if any.
    public var poisonedBy: StorageError? { locked { poison } }
}

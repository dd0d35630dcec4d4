#if canImport(Glibc)
import Glibc
#endif

/// Writes a file sequentially through an aligned staging buffer, with `O_DIRECT` when the filesystem allows it.
///
/// Why: a checkpoint writes the whole store (hundreds of MB). Through the page cache, the kernel's copy into
/// fresh cache pages (`copy_folio_from_iter_atomic`) took a large share of the machine's CPU under a steady
/// ingest (BENCHMARKS.md, "Storage format measurements"), plus writeback later. With `O_DIRECT` the device reads the staging buffer directly; the only copy is the one into
/// the (reused, already mapped) staging buffer. When `O_DIRECT` is refused (EINVAL: tmpfs and some others), the
/// same chunks go through the page cache.
///
/// Direct I/O needs buffer, offset and length aligned to the device's block size: whole chunks are aligned by
/// construction; the last partial chunk is padded with zeros to `alignment` and the file is then cut back to
/// its exact length with ftruncate. One writer per file; not thread-safe.
///
/// A field whose value is known only after the bytes that follow it (a section's length and checksum) is
/// `reserve`d as zeros and `patch`ed later: a full chunk that still holds an unpatched reservation is set aside
/// (copied to a held buffer) instead of written, and goes out at its own offset once its last reservation is
/// patched. So the file is written in one pass with at most a few chunks held back.
final class StagedFileWriter {
    static let chunkSize = 4 << 20
    static let alignment = 4096

    let io: FileIO
    let file: OpenFile
    /// Whether the file was opened with O_DIRECT.
    let direct: Bool
    private let buffer: UnsafeMutableRawPointer
    private var used = 0
    /// Bytes handed to `write` so far (the file's final length).
    private(set) var length: UInt64 = 0
    private var flushed: UInt64 = 0
    /// Reserved, not yet patched ranges (file offset, length).
    private var pending: [(offset: UInt64, count: Int)] = []
    /// Full chunks set aside because they overlap a pending range: file offset -> aligned copy.
    private var held: [UInt64: UnsafeMutableRawPointer] = [:]

    /// Creates (truncating) `path`; the caller closes `file` (after `finish`). `direct: false` skips O_DIRECT.
    init(path: String, io: FileIO, direct wantDirect: Bool = true) throws {
        self.io = io
        if wantDirect {
            do {
                file = try io.open(path, mode: .createTruncateDirect)
                direct = true
            } catch StorageError.io(let failure) where failure.errno == EINVAL {
                file = try io.open(path, mode: .createTruncate)
                direct = false
            }
        } else {
            file = try io.open(path, mode: .createTruncate)
            direct = false
        }
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, Self.alignment, Self.chunkSize) == 0, let p else {
            try? io.close(file)
            throw StorageError.io(SyscallFailure(syscall: "posix_memalign", path: path, errno: ENOMEM))
        }
        buffer = p
    }

    deinit {
        free(buffer)
        for chunk in held.values { free(chunk) }
    }

    /// Appends `count` zero bytes to be overwritten later with `patch(at:_:)`; returns their file offset.
    func reserve(_ count: Int) throws -> UInt64 {
        let offset = length
        pending.append((offset, count))
        try withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { zeros in
            zeros.initializeMemory(as: UInt8.self, repeating: 0)
            try write(UnsafeRawBufferPointer(zeros))
        }
        return offset
    }

    /// Fills the range reserved at `offset` (exactly its length) and writes out chunks it no longer holds back.
    func patch(at offset: UInt64, _ bytes: [UInt8]) throws {
        guard let k = pending.firstIndex(where: { $0.offset == offset && $0.count == bytes.count }) else {
            throw StorageError.invalidArgument("no reservation of \(bytes.count) bytes at offset \(offset)")
        }
        pending.remove(at: k)
        let chunkSize = UInt64(Self.chunkSize)
        for (i, byte) in bytes.enumerated() {
            let at = offset + UInt64(i)
            if at >= flushed {
                buffer.storeBytes(of: byte, toByteOffset: Int(at - flushed), as: UInt8.self)
            } else {
                let start = at / chunkSize * chunkSize
                held[start]!.storeBytes(of: byte, toByteOffset: Int(at - start), as: UInt8.self)
            }
        }
        for start in held.keys.sorted() where !overlapsPending(start, Self.chunkSize) {
            try writeChunk(UnsafeRawBufferPointer(start: held[start]!, count: Self.chunkSize), at: start)
            free(held.removeValue(forKey: start)!)
        }
    }

    private func overlapsPending(_ start: UInt64, _ count: Int) -> Bool {
        pending.contains { $0.offset < start + UInt64(count) && start < $0.offset + UInt64($0.count) }
    }

    /// Appends `bytes` (copied into the staging buffer; full chunks are written out).
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let n = min(rest.count, Self.chunkSize - used)
            (buffer + used).copyMemory(from: rest.baseAddress!, byteCount: n)
            used += n
            length += UInt64(n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if used == Self.chunkSize { try flushChunk(count: used) }
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes what is staged and gives the file its exact length. Does not sync.
    func finish() throws {
        guard pending.isEmpty else {
            throw StorageError.invalidArgument("\(pending.count) reserved ranges were never patched")
        }
        if used > 0 {
            let padded = (used + Self.alignment - 1) / Self.alignment * Self.alignment
            (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: padded - used)
            try flushChunk(count: padded)
        }
        if flushed != length { try io.ftruncate(file, to: length) }
    }

    private func flushChunk(count: Int) throws {
        let chunk = UnsafeRawBufferPointer(start: buffer, count: count)
        if overlapsPending(flushed, count) {
            // Only full chunks can be held: `finish` refuses to run with anything pending.
            var copy: UnsafeMutableRawPointer?
            guard posix_memalign(&copy, Self.alignment, Self.chunkSize) == 0, let copy else {
                throw StorageError.io(SyscallFailure(syscall: "posix_memalign", path: file.path, errno: ENOMEM))
            }
            copy.copyMemory(from: buffer, byteCount: count)
            held[flushed] = copy
        } else {
            try writeChunk(chunk, at: flushed)
        }
        flushed += UInt64(count)
        used = 0
    }

    private func writeChunk(_ chunk: UnsafeRawBufferPointer, at offset: UInt64) throws {
        if direct {
            // A direct write cannot be continued from an unaligned offset: a short one means no space.
            let n = try io.pwrite(file, chunk, at: offset)
            if n < chunk.count {
                throw StorageError.noSpace(SyscallFailure(
                    syscall: "pwrite", path: file.path, errno: ENOSPC, message: "short write: \(n) of \(chunk.count) bytes written"))
            }
        } else {
            try io.pwriteFully(file, chunk, at: offset)
        }
    }
}

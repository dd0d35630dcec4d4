import Foundation
import LynxSupport
#if canImport(Glibc)
import Glibc
#endif

/// A TEST TOOL: wraps another `FileIO` and makes chosen calls fail, so tests can exercise the error paths
/// of the WAL, snapshots and manifest without a broken disk.
///
/// Faults are armed per operation and fire on a chosen call: `after: 0` means the next call,
/// `after: 2` lets two calls through and fails the third. A fired fault is consumed (`times` counts down).
/// - `failWrites(errno:)`: pwrite throws (ENOSPC → `.noSpace`, EIO → `.io`) without writing anything.
/// - `shortWrite(keep:)`: pwrite writes only the first `keep` bytes to the wrapped file and reports that
///   count; the next pwrite then fails with ENOSPC — what a disk that fills up mid-write does.
/// - `fail(.fdatasync, errno: EIO)` etc.: any other operation fails with the given errno.
/// - `availableBytesOverride`: the free space `availableBytes(at:)` reports.
/// - `pathContaining:` narrows a fault to calls on paths containing that text; other calls neither fire nor
///   count towards its `after`.
///
/// Thread-safe (one lock around the fault table). Counters (`calls(_:)`) count every call, failed or not.
public final class FaultInjectingFileIO: FileIO, @unchecked Sendable {
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case open, close, pwrite, pread, fdatasync, fsync, ftruncate, zeroRange, fileSize, mapShared, mapReadOnly, releaseMapped, rename, link, unlink
        case fsyncDirectory, listDirectory, createDirectory, removeDirectory
    }

    private enum Fault {
        case error(Int32)
        case short(keep: Int)
    }

    private struct Armed {
        var skip: Int
        var times: Int
        var fault: Fault
        var pathContaining: String? = nil
    }

    public let base: FileIO
    /// Guards the four fields below.
    private let lock = PlainMutex<Void>(())
    private var armed: [Operation: [Armed]] = [:]
    private var counts: [Operation: Int] = [:]
    private var failNextWriteWithENOSPC = false
    private var freeBytes: UInt64?

    public init(wrapping base: FileIO = SystemFileIO()) { self.base = base }

    private func locked<T>(_ body: () -> T) -> T { lock.withLock { _ in body() } }

    /// Fail `op` with `errno` on the call `after` calls from now, `times` times in a row.
    public func fail(_ op: Operation, errno code: Int32, after: Int = 0, times: Int = 1, pathContaining: String? = nil) {
        locked {
            armed[op, default: []].append(Armed(skip: after, times: times, fault: .error(code), pathContaining: pathContaining))
        }
    }

    /// Fail a pwrite with `errno` (default ENOSPC) without writing anything.
    public func failWrites(errno code: Int32 = ENOSPC, after: Int = 0, times: Int = 1) {
        fail(.pwrite, errno: code, after: after, times: times)
    }

    /// Make a pwrite store only its first `keep` bytes (clamped to the request) and report that count;
    /// the pwrite after it fails with ENOSPC, like a disk that just filled up.
    public func shortWrite(keep: Int, after: Int = 0) {
        locked {
            armed[.pwrite, default: []].append(Armed(skip: after, times: 1, fault: .short(keep: keep)))
        }
    }

    /// Removes every armed fault.
    public func clearFaults() {
        locked {
            armed.removeAll()
            failNextWriteWithENOSPC = false
        }
    }

    /// How many times `op` was called (including failed calls).
    public func calls(_ op: Operation) -> Int {
        locked { counts[op, default: 0] }
    }

    private func count(_ op: Operation) {
        locked {
            counts[op, default: 0] += 1
        }
    }

    /// Decides whether this call of `op` fails.
    private func take(_ op: Operation, _ path: String) -> Fault? {
        return locked {
            counts[op, default: 0] += 1
            if op == .pwrite && failNextWriteWithENOSPC {
                failNextWriteWithENOSPC = false
                return .error(ENOSPC)
            }
            guard var list = armed[op], !list.isEmpty else { return nil }
            var result: Fault? = nil
            var i = 0
            while i < list.count {
                if let part = list[i].pathContaining, !path.contains(part) {
                    i += 1
                } else if list[i].skip > 0 {
                    list[i].skip -= 1
                    i += 1
                } else if result == nil {
                    result = list[i].fault
                    list[i].times -= 1
                    if list[i].times <= 0 { list.remove(at: i) } else { i += 1 }
                } else {
                    i += 1
                }
            }
            armed[op] = list
            if case .short = result { failNextWriteWithENOSPC = true }
            return result
        }
    }

    private func check(_ op: Operation, _ syscall: String, _ path: String) throws {
        if case .error(let code)? = take(op, path) {
            throw StorageError.fromErrno(code, syscall: syscall, path: path)
        }
    }

    public func open(_ path: String, mode: OpenMode) throws -> OpenFile {
        try check(.open, "open", path)
        return try base.open(path, mode: mode)
    }

    public func close(_ file: OpenFile) throws {
        if case .error(let code)? = take(.close, file.path) {
            try? base.close(file) // the descriptor is gone either way, as with close(2)
            throw StorageError.fromErrno(code, syscall: "close", path: file.path)
        }
        try base.close(file)
    }

    public func pwrite(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int {
        switch take(.pwrite, file.path) {
        case .error(let code)?:
            throw StorageError.fromErrno(code, syscall: "pwrite", path: file.path)
        case .short(let keep)?:
            let k = max(0, min(keep, bytes.count - 1))
            if k == 0 {
                locked { failNextWriteWithENOSPC = false }
                throw StorageError.fromErrno(ENOSPC, syscall: "pwrite", path: file.path)
            }
            return try base.pwrite(file, UnsafeRawBufferPointer(rebasing: bytes[0..<k]), at: offset)
        case nil:
            return try base.pwrite(file, bytes, at: offset)
        }
    }

    public func pread(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try check(.pread, "pread", file.path)
        return try base.pread(file, into: buffer, at: offset)
    }

    public func fdatasync(_ file: OpenFile) throws {
        try check(.fdatasync, "fdatasync", file.path)
        try base.fdatasync(file)
    }

    public func fsync(_ file: OpenFile) throws {
        try check(.fsync, "fsync", file.path)
        try base.fsync(file)
    }

    public func ftruncate(_ file: OpenFile, to size: UInt64) throws {
        try check(.ftruncate, "ftruncate", file.path)
        try base.ftruncate(file, to: size)
    }

    public func zeroRange(_ file: OpenFile, from offset: UInt64, count: UInt64) throws {
        try check(.zeroRange, "fallocate", file.path)
        try base.zeroRange(file, from: offset, count: count)
    }

    public func fileSize(_ file: OpenFile) throws -> UInt64 {
        try check(.fileSize, "fstat", file.path)
        return try base.fileSize(file)
    }

    public func mapShared(_ file: OpenFile, length: Int) throws -> UnsafeMutableRawPointer {
        try check(.mapShared, "mmap", file.path)
        return try base.mapShared(file, length: length)
    }

    public func mapReadOnly(_ file: OpenFile, length: Int) throws -> UnsafeRawPointer {
        try check(.mapReadOnly, "mmap", file.path)
        return try base.mapReadOnly(file, length: length)
    }

    public func unmap(_ address: UnsafeMutableRawPointer, length: Int) { base.unmap(address, length: length) }

    public func prefaultWritable(_ address: UnsafeMutableRawPointer, length: Int) {
        base.prefaultWritable(address, length: length)
    }

    public func releaseMapped(_ address: UnsafeMutableRawPointer, length: Int) {
        count(.releaseMapped)  // a best-effort call: counted, never failed
        base.releaseMapped(address, length: length)
    }

    public func rename(_ from: String, to: String) throws {
        try check(.rename, "rename", from + " -> " + to)
        try base.rename(from, to: to)
    }

    public func link(_ existing: String, to: String) throws {
        try check(.link, "link", existing + " -> " + to)
        try base.link(existing, to: to)
    }

    public func unlink(_ path: String) throws {
        try check(.unlink, "unlink", path)
        try base.unlink(path)
    }

    public func fsyncDirectory(_ path: String) throws {
        try check(.fsyncDirectory, "fsync", path)
        try base.fsyncDirectory(path)
    }

    public func listDirectory(_ path: String) throws -> [String] {
        try check(.listDirectory, "opendir", path)
        return try base.listDirectory(path)
    }

    public func createDirectory(_ path: String) throws {
        try check(.createDirectory, "mkdir", path)
        try base.createDirectory(path)
    }

    public func removeDirectory(_ path: String) throws {
        try check(.removeDirectory, "rmdir", path)
        try base.removeDirectory(path)
    }

    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    public func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }

    /// What `availableBytes(at:)` answers instead of the wrapped `FileIO` (nil: its answer).
    public var availableBytesOverride: UInt64? {
        get { locked { freeBytes } }
        set { locked { freeBytes = newValue } }
    }

    public func availableBytes(at path: String) -> UInt64? { availableBytesOverride ?? base.availableBytes(at: path) }
}

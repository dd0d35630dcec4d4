#if canImport(Glibc)
import Glibc
#endif

/// A `FileIO` that can only read: opening for anything but reading, and every call that writes, syncs, renames,
/// removes or creates, throws `.io` with EROFS before reaching the file system. The operator tools (`lynxd check`,
/// `lynxd dump-wal`) inspect a data directory through it, so no code path they share with recovery can change a
/// byte of it, whatever that code would otherwise do.
public struct ReadOnlyFileIO: FileIO {
    let base: FileIO

    public init(_ base: FileIO = SystemFileIO()) { self.base = base }

    private func refuse(_ syscall: String, _ path: String) -> StorageError {
        .io(SyscallFailure(syscall: syscall, path: path, errno: EROFS, message: "refused: this file access is read-only"))
    }

    public func open(_ path: String, mode: OpenMode) throws -> OpenFile {
        guard mode == .readOnly else { throw refuse("open", path) }
        return try base.open(path, mode: mode)
    }
    public func close(_ file: OpenFile) throws { try base.close(file) }
    public func pread(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try base.pread(file, into: buffer, at: offset)
    }
    public func fileSize(_ file: OpenFile) throws -> UInt64 { try base.fileSize(file) }
    public func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    public func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    public func availableBytes(at path: String) -> UInt64? { base.availableBytes(at: path) }

    public func pwrite(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int {
        throw refuse("pwrite", file.path)
    }
    public func fdatasync(_ file: OpenFile) throws { throw refuse("fdatasync", file.path) }
    public func fsync(_ file: OpenFile) throws { throw refuse("fsync", file.path) }
    public func ftruncate(_ file: OpenFile, to size: UInt64) throws { throw refuse("ftruncate", file.path) }
    public func zeroRange(_ file: OpenFile, from offset: UInt64, count: UInt64) throws { throw refuse("fallocate", file.path) }
    public func mapShared(_ file: OpenFile, length: Int) throws -> UnsafeMutableRawPointer { throw refuse("mmap", file.path) }
    public func mapReadOnly(_ file: OpenFile, length: Int) throws -> UnsafeRawPointer {
        try base.mapReadOnly(file, length: length)
    }
    public func unmap(_ address: UnsafeMutableRawPointer, length: Int) { base.unmap(address, length: length) }
    // Nothing is ever mapped writable through this seam, so there is nothing to advise.
    public func prefaultWritable(_ address: UnsafeMutableRawPointer, length: Int) {}
    public func releaseMapped(_ address: UnsafeMutableRawPointer, length: Int) {}
    public func rename(_ from: String, to: String) throws { throw refuse("rename", from) }
    public func unlink(_ path: String) throws { throw refuse("unlink", path) }
    public func link(_ existing: String, to: String) throws { throw refuse("link", existing) }
    public func fsyncDirectory(_ path: String) throws { throw refuse("fsync", path) }
    public func createDirectory(_ path: String) throws { throw refuse("mkdir", path) }
    public func removeDirectory(_ path: String) throws { throw refuse("rmdir", path) }
}

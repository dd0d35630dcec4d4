#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFileOps

/// An open file: the descriptor plus the path it was opened with (for error messages).
public struct OpenFile: Sendable, Hashable {
    public let fd: Int32
    public let path: String
    public init(fd: Int32, path: String) { self.fd = fd; self.path = path }
}

/// How to open a file.
public enum OpenMode: Sendable, Equatable {
    /// Read only; the file must exist.
    case readOnly
    /// Read/write; the file must exist.
    case readWrite
    /// Read/write; created (mode 0644) when missing, kept as is when present.
    case createOrOpen
    /// Read/write; created when missing, truncated to 0 bytes when present.
    case createTruncate
    /// As `createTruncate`, with O_DIRECT: writes bypass the page cache, and buffers, offsets and lengths must be
    /// multiples of the device's block size (4096 is safe). Filesystems without direct I/O fail with EINVAL.
    case createTruncateDirect
}

/// The file-I/O seam: every system call the WAL, snapshots and manifest make goes through this.
/// `SystemFileIO` is the real implementation; `FaultInjectingFileIO` wraps one to inject failures in tests.
///
/// Each method is one system call (EINTR is retried). Failures throw `StorageError` built by
/// `StorageError.fromErrno(_:syscall:path:)`. Implementations must be safe to call from any thread.
public protocol FileIO: Sendable {
    func open(_ path: String, mode: OpenMode) throws -> OpenFile
    func close(_ file: OpenFile) throws
    /// One pwrite(2). Returns the number of bytes written, which may be less than `bytes.count`.
    func pwrite(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int
    /// One pread(2). Returns the number of bytes read (0 at end of file).
    func pread(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int
    func fdatasync(_ file: OpenFile) throws
    func fsync(_ file: OpenFile) throws
    func ftruncate(_ file: OpenFile, to size: UInt64) throws
    /// Makes `count` bytes from `offset` read as zeros without writing them and without changing the file's size
    /// (fallocate ZERO_RANGE | KEEP_SIZE). Throws `.io` with EOPNOTSUPP (or EINVAL) where the filesystem cannot.
    func zeroRange(_ file: OpenFile, from offset: UInt64, count: UInt64) throws
    func fileSize(_ file: OpenFile) throws -> UInt64
    /// Maps the file's first `length` bytes shared and writable (mmap PROT_READ|PROT_WRITE, MAP_SHARED): a store
    /// into the mapping lands in the file's page cache, where a pwrite's bytes land, so it outlives the process
    /// and the next fdatasync writes it. `length` may exceed the file's size, but touching a page that lies
    /// wholly past the end of the file raises SIGBUS: callers store only below a size they have written.
    func mapShared(_ file: OpenFile, length: Int) throws -> UnsafeMutableRawPointer
    /// Maps the file's first `length` bytes read-only (mmap PROT_READ, MAP_SHARED): its bytes read in place from the
    /// page cache, which the kernel may drop and read again. `length` must not pass the file's size.
    func mapReadOnly(_ file: OpenFile, length: Int) throws -> UnsafeRawPointer
    /// Removes a mapping made by `mapShared` or `mapReadOnly`.
    func unmap(_ address: UnsafeMutableRawPointer, length: Int)
    /// Best effort: makes the mapped range's pages present and writable now (madvise MADV_POPULATE_WRITE,
    /// Linux 5.14+), so that stores into them later take no page fault. The range must lie within the file.
    func prefaultWritable(_ address: UnsafeMutableRawPointer, length: Int)
    /// Best effort: drops the mapped range's pages from the mapping (madvise MADV_DONTNEED; the stores into them
    /// stay in the page cache, dirty, and `fdatasync` writes them). Unmapped, the pages need no write-protection
    /// (and no TLB shootdown per page) when the kernel writes them back.
    func releaseMapped(_ address: UnsafeMutableRawPointer, length: Int)
    func rename(_ from: String, to: String) throws
    /// A second name for an existing file (link(2)); both on one filesystem. EEXIST when `to` exists.
    func link(_ existing: String, to: String) throws
    func unlink(_ path: String) throws
    /// Opens the directory, fsyncs it (making renames/creations/unlinks in it durable), closes it.
    func fsyncDirectory(_ path: String) throws
    /// Names of the entries in a directory (no "." or ".."), unsorted.
    func listDirectory(_ path: String) throws -> [String]
    /// Creates a directory (mode 0755) if it does not exist yet.
    func createDirectory(_ path: String) throws
    /// Removes an empty directory.
    func removeDirectory(_ path: String) throws
    func fileExists(_ path: String) -> Bool
    /// True when `path` names a directory (symbolic links are not followed).
    func isDirectory(_ path: String) -> Bool
    /// Bytes an unprivileged process may still write on the filesystem holding `path` (`statvfs`'s
    /// `f_bavail × f_frsize`); nil when it cannot be asked. Quotas are not seen here: they show up as EDQUOT.
    func availableBytes(at path: String) -> UInt64?
}

extension FileIO {
    /// Removes `path` and everything under it (files and directories; links are removed, not followed).
    public func removeTree(_ path: String) throws {
        guard isDirectory(path) else {
            if fileExists(path) { try unlink(path) }
            return
        }
        for name in try listDirectory(path) { try removeTree(joinPath(path, name)) }
        try removeDirectory(path)
    }
}

extension FileIO {
    /// Writes all of `bytes` at `offset`, continuing after short writes. A continuation that fails
    /// throws that failure; a write that makes no progress throws `.noSpace` (short write).
    public func pwriteFully(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            let n = try pwrite(file, rest, at: offset + UInt64(done))
            if n <= 0 {
                throw StorageError.noSpace(SyscallFailure(
                    syscall: "pwrite", path: file.path, errno: ENOSPC,
                    message: "short write: \(done) of \(bytes.count) bytes written"))
            }
            done += n
        }
    }

    /// Reads until `buffer` is full or end of file; returns the number of bytes read.
    public func preadFully(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
            let n = try pread(file, into: rest, at: offset + UInt64(done))
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads a whole file into memory.
    public func readWholeFile(_ path: String) throws -> [UInt8] {
        let f = try open(path, mode: .readOnly)
        defer { try? close(f) }
        let size = Int(try fileSize(f))
        var out = [UInt8](repeating: 0, count: size)
        let n = try out.withUnsafeMutableBytes { try preadFully(f, into: $0, at: 0) }
        if n < size { out.removeLast(size - n) }
        return out
    }

    /// Atomically replaces `path` with `bytes`: write `<path>.tmp`, fsync it, rename over `path`,
    /// fsync the directory. After it returns the new content is durable; a crash before leaves the old one.
    public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let tmp = path + ".tmp"
        let f = try open(tmp, mode: .createTruncate)
        do {
            try bytes.withUnsafeBytes { try pwriteFully(f, $0, at: 0) }
            try fsync(f)                                   // durability step 1: file content
        } catch {
            try? close(f)
            try? unlink(tmp)
            throw error
        }
        try close(f)
        try rename(tmp, to: path)                          // step 2: atomic replace
        try fsyncDirectory(parentDirectory(of: path))      // step 3: the rename itself
    }
}

/// The directory part of a path ("." when there is none).
public func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// Joins a directory and a file name.
public func joinPath(_ dir: String, _ name: String) -> String {
    dir.hasSuffix("/") ? dir + name : dir + "/" + name
}

/// The real file system, through Glibc.
/// O_DIRECT (glibc hides it from Swift without _GNU_SOURCE); its value differs between architectures.
#if arch(arm64)
let linuxODirect: Int32 = 0o200000
#else
let linuxODirect: Int32 = 0o40000
#endif
/// MADV_POPULATE_WRITE (Linux 5.14), newer than the headers Swift's Glibc module exposes.
let linuxMadvisePopulateWrite: Int32 = 23

public struct SystemFileIO: FileIO {
    public init() {}

    @inline(__always)
    private func fail(_ syscall: String, _ path: String) -> StorageError {
        StorageError.fromErrno(errno, syscall: syscall, path: path)
    }

    public func open(_ path: String, mode: OpenMode) throws -> OpenFile {
        var flags: Int32 = O_CLOEXEC
        switch mode {
        case .readOnly: flags |= O_RDONLY
        case .readWrite: flags |= O_RDWR
        case .createOrOpen: flags |= O_RDWR | O_CREAT
        case .createTruncate: flags |= O_RDWR | O_CREAT | O_TRUNC
        case .createTruncateDirect: flags |= O_RDWR | O_CREAT | O_TRUNC | linuxODirect
        }
        while true {
            let fd = Glibc.open(path, flags, 0o644)
            if fd >= 0 { return OpenFile(fd: fd, path: path) }
            if errno != EINTR { throw fail("open", path) }
        }
    }

    public func close(_ file: OpenFile) throws {
        // Never retry close on Linux: the descriptor is released even when close reports EINTR.
        if Glibc.close(file.fd) != 0 && errno != EINTR { throw fail("close", file.path) }
    }

    public func pwrite(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int {
        if bytes.isEmpty { return 0 }
        while true {
            let n = Glibc.pwrite(file.fd, bytes.baseAddress, bytes.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw fail("pwrite", file.path) }
        }
    }

    public func pread(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        if buffer.isEmpty { return 0 }
        while true {
            let n = Glibc.pread(file.fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw fail("pread", file.path) }
        }
    }

    public func fdatasync(_ file: OpenFile) throws {
        // No EINTR retry loop around a *failed* sync is needed: Linux fdatasync does not return EINTR.
        if Glibc.fdatasync(file.fd) != 0 { throw fail("fdatasync", file.path) }
    }

    public func fsync(_ file: OpenFile) throws {
        if Glibc.fsync(file.fd) != 0 { throw fail("fsync", file.path) }
    }

    public func ftruncate(_ file: OpenFile, to size: UInt64) throws {
        while Glibc.ftruncate(file.fd, off_t(size)) != 0 {
            if errno != EINTR { throw fail("ftruncate", file.path) }
        }
    }

    public func zeroRange(_ file: OpenFile, from offset: UInt64, count: UInt64) throws {
        if lynx_zero_range(file.fd, Int64(offset), Int64(count)) != 0 { throw fail("fallocate", file.path) }
    }

    public func fileSize(_ file: OpenFile) throws -> UInt64 {
        var st = stat()
        if Glibc.fstat(file.fd, &st) != 0 { throw fail("fstat", file.path) }
        return UInt64(st.st_size)
    }

    public func mapShared(_ file: OpenFile, length: Int) throws -> UnsafeMutableRawPointer {
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd, 0), p != MAP_FAILED else {
            throw fail("mmap", file.path)
        }
        return p
    }

    public func mapReadOnly(_ file: OpenFile, length: Int) throws -> UnsafeRawPointer {
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, file.fd, 0), p != MAP_FAILED else {
            throw fail("mmap", file.path)
        }
        return UnsafeRawPointer(p)
    }

    public func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = munmap(address, length)
    }

    public func prefaultWritable(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = madvise(address, length, linuxMadvisePopulateWrite)  // EINVAL before Linux 5.14: pages fault in later
    }

    public func releaseMapped(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = madvise(address, length, MADV_DONTNEED)
    }

    public func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 { throw fail("rename", from + " -> " + to) }
    }

    public func link(_ existing: String, to: String) throws {
        if Glibc.link(existing, to) != 0 { throw fail("link", existing + " -> " + to) }
    }

    public func unlink(_ path: String) throws {
        if Glibc.unlink(path) != 0 { throw fail("unlink", path) }
    }

    public func fsyncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw fail("open", path) }
        defer { _ = Glibc.close(fd) }
        if Glibc.fsync(fd) != 0 { throw fail("fsync", path) }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw fail("opendir", path) }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw -> String in
                let p = raw.bindMemory(to: CChar.self)
                return String(cString: p.baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func createDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw fail("mkdir", path) }
    }

    public func removeDirectory(_ path: String) throws {
        if rmdir(path) != 0 { throw fail("rmdir", path) }
    }

    public func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func availableBytes(at path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
    }
}

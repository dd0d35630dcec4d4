#if canImport(Glibc)
import Glibc
#endif

/// Exclusive ownership of a data directory: `flock(LOCK_EX | LOCK_NB)` on `<dir>/LOCK`, which then holds
/// the owner's pid as text. The lock lives as long as this object (or until `release()`); the kernel drops
/// it if the process dies, so a stale LOCK file never blocks a restart. flock locks belong to the open file,
/// so a second `acquire` in the same process also fails. Thread-safe to acquire; release once.
public final class DirectoryLock: @unchecked Sendable {
    public static let fileName = "LOCK"
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) { self.path = path; self.fd = fd }

    /// Takes the lock or throws `.locked(byPID:path:)` naming the holder (0 when its pid cannot be read).
    public static func acquire(dir: String) throws -> DirectoryLock {
        let path = joinPath(dir, fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw StorageError.fromErrno(errno, syscall: "open", path: path) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            if e == EWOULDBLOCK {
                let pid = readPID(fd)
                close(fd)
                throw StorageError.locked(byPID: pid, path: path)
            }
            close(fd)
            throw StorageError.fromErrno(e, syscall: "flock", path: path)
        }
        let text = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) != 0 || text.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) != text.count {
            let e = errno
            close(fd)
            throw StorageError.fromErrno(e, syscall: "pwrite", path: path)
        }
        return DirectoryLock(path: path, fd: fd)
    }

    /// Whether a process holds `<dir>/LOCK` now, for tools that only read the directory: the holder's pid (0 when
    /// it cannot be read), or nil when the lock is free or the file does not exist. Never creates the file; asks
    /// for a shared lock without waiting and drops it at once, so a holder is never disturbed. (A lynxd whose own
    /// `acquire` falls between those two calls, microseconds apart, would be refused once as "in use".)
    public static func holder(dir: String) -> Int32? {
        let fd = open(joinPath(dir, fileName), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        while flock(fd, LOCK_SH | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            return errno == EWOULDBLOCK ? readPID(fd) : nil
        }
        _ = flock(fd, LOCK_UN)
        return nil
    }

    private static func readPID(_ fd: Int32) -> Int32 {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return 0 }
        let s = String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: " \n\r\t")
        return Int32(s) ?? 0
    }

    /// Unlocks and closes. The LOCK file stays (removing it would race with a new owner).
    public func release() {
        if fd >= 0 {
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One failed system call: which call, on which path, with which errno (and its `strerror` text).
public struct SyscallFailure: Sendable, Equatable, CustomStringConvertible {
    public let syscall: String
    public let path: String
    public let errno: Int32
    public let message: String

    public init(syscall: String, path: String, errno: Int32, message: String? = nil) {
        self.syscall = syscall
        self.path = path
        self.errno = errno
        self.message = message ?? SyscallFailure.strerrorText(errno)
    }

    public static func strerrorText(_ code: Int32) -> String {
        guard let p = strerror(code) else { return "errno \(code)" }
        return String(cString: p)
    }

    public var description: String { "\(syscall)(\(path)): \(message) (errno \(errno))" }
}

/// The storage layer's error type. Callers switch on the case; the payload says what happened where.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// ENOSPC or EDQUOT from a write, or a write that stored fewer bytes than asked (a full disk).
    /// For the WAL: nothing of the failed transaction is counted.
    case noSpace(SyscallFailure)
    /// EIO and every other errno not covered by a more specific case.
    case io(SyscallFailure)
    /// fsync/fdatasync failed (any errno). The data it covered is in an unknown state; a WALWriter that
    /// saw this is poisoned and throws this error (the original failure) from every later append/sync.
    case syncFailed(SyscallFailure)
    /// ENOENT: the file or directory does not exist.
    case notFound(SyscallFailure)
    /// A file's bytes failed validation (bad magic, checksum mismatch, impossible length, ...).
    case corrupt(String)
    /// Another process (or another DirectoryLock in this process) holds `<dir>/LOCK`. pid 0 = unknown.
    case locked(byPID: Int32, path: String)
    /// The data directory's manifest says `existing` for `field`; the caller asked for `requested`.
    case manifestConflict(field: String, existing: String, requested: String)
    /// The caller passed something the format cannot hold (e.g. a payload over the frame size limit).
    case invalidArgument(String)
    /// The object was closed.
    case closed(String)

    public var description: String {
        switch self {
        case .noSpace(let f): return "no space left: \(f)"
        case .io(let f): return "I/O error: \(f)"
        case .syncFailed(let f): return "sync failed (durability unknown, writes refused): \(f)"
        case .notFound(let f): return "not found: \(f)"
        case .corrupt(let why): return "corrupt: \(why)"
        case .locked(let pid, let path):
            return "data directory is locked: \(path) is held by process \(pid) (is another lynxd using this directory?)"
        case .manifestConflict(let field, let existing, let requested):
            return "manifest conflict: \(field) is \(existing) in the data directory, but \(requested) was requested"
        case .invalidArgument(let why): return "invalid argument: \(why)"
        case .closed(let what): return "\(what) is closed"
        }
    }

    /// What failed, without file paths: for answers to clients (the paths go to the server's log).
    public var summary: String {
        switch self {
        case .noSpace(let f): return "no space left on the device (\(f.syscall))"
        case .io(let f): return "I/O error (\(f.syscall): \(f.message))"
        case .syncFailed(let f): return "sync failed (\(f.syscall): \(f.message))"
        case .notFound(let f): return "a file is missing (\(f.syscall))"
        case .corrupt: return "a file failed its checks"
        case .locked: return "the data directory is locked by another process"
        case .manifestConflict(let field, let existing, let requested):
            return "manifest conflict: \(field) is \(existing), \(requested) was requested"
        case .invalidArgument(let why): return "invalid argument: \(why)"
        case .closed(let what): return "\(what) is closed"
        }
    }

    /// Maps an errno from `syscall` on `path` to the matching case.
    /// fsync/fdatasync failures are always `.syncFailed`, whatever the errno.
    public static func fromErrno(_ code: Int32, syscall: String, path: String) -> StorageError {
        let f = SyscallFailure(syscall: syscall, path: path, errno: code)
        if syscall == "fsync" || syscall == "fdatasync" { return .syncFailed(f) }
        switch code {
        case ENOSPC, EDQUOT: return .noSpace(f)
        case ENOENT: return .notFound(f)
        default: return .io(f)
        }
    }
}

import Glibc

/// Space on the filesystem that holds a path (statvfs): what an operator's "disk nearly full" alert watches.
public struct DiskSpace: Sendable, Equatable {
    /// Bytes an unprivileged writer may still use (f_bavail).
    public var availableBytes: UInt64
    /// The filesystem's size.
    public var totalBytes: UInt64

    /// nil when statvfs fails (the path is gone, for instance).
    public static func of(_ path: String) -> DiskSpace? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        let unit = UInt64(s.f_frsize)
        return DiskSpace(availableBytes: UInt64(s.f_bavail) * unit, totalBytes: UInt64(s.f_blocks) * unit)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import LynxStorage

/// Why this process cannot write its data directory, said so that an operator knows what to change: the uid lynxd
/// runs as, and who owns the directory. The container image runs lynxd as uid 10001, so a bind-mounted host
/// directory must be writable by that uid; a root-owned one fails here. Asked only after opening the directory
/// failed, to explain the failure.
enum DataDirectoryAccess {
    /// nil when the directory (or, if it does not exist yet, the nearest existing parent it would be created in) is
    /// writable by this process, or when the reason is not ownership or a read-only mount.
    static func problem(_ path: String) -> String? {
        var dir = path.isEmpty ? "." : path
        var st = stat()
        while stat(dir, &st) != 0 {
            guard errno == ENOENT else { return nil }
            let parent = parentDirectory(of: dir)
            guard parent != dir else { return nil }
            dir = parent
        }
        if access(dir, W_OK | X_OK) == 0 { return nil }
        let uid = geteuid(), gid = getegid()
        switch errno {
        case EROFS:
            return "\(dir) is on a read-only file system; lynxd needs to write its data directory"
        case EACCES, EPERM:
            let mode = String(st.st_mode & 0o7777, radix: 8)
            var fix = "make it writable by uid \(uid)"
            if uid == 10001 { fix += " (the container image runs lynxd as uid 10001: chown -R 10001:10001 the host directory)" }
            return "lynxd runs as uid \(uid) (gid \(gid)), which cannot write \(dir) (owner uid \(st.st_uid), gid \(st.st_gid), mode \(mode)); \(fix)"
        default:
            return nil
        }
    }
}

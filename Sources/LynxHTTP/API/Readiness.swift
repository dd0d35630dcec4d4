import LynxEngine

/// Whether lynxd should be sent traffic (`GET /health/ready`): every collection recovered and taking writes,
/// and room left on the disk. Computed per call from the engines' state and one `statvfs`.
public struct Readiness: Sendable {
    /// Why lynxd is not ready; `rawValue` is the word the API reports.
    public enum Reason: String, Sendable {
        /// A collection is replaying its log at start-up.
        case recovering
        /// A collection refuses writes after an unrecoverable fault (a failed fsync); a restart recovers it.
        case failed
        /// The data directory's filesystem has less than `--min-free-disk-bytes` free, or a collection's last
        /// write ran out of space and no space has returned since.
        case diskFull = "disk-full"
    }

    /// Each reason with what it is about, in the order found (`default` first).
    public private(set) var findings: [(reason: Reason, detail: String)] = []

    public var isReady: Bool { findings.isEmpty }
    public var reasons: [Reason] { findings.map(\.reason) }

    /// `minFreeDiskBytes`: below it the disk counts as full (0: only failed writes say so).
    public init(_ database: Database, minFreeDiskBytes: UInt64) {
        for (name, engine) in database.collections {
            let which = "collection \(name.value)"
            switch engine.status {
            case .recovering(let progress):
                findings.append((.recovering, "\(which) is recovering (\(Int(progress * 100))% of its log replayed)"))
            case .failed(let why):
                findings.append((.failed, "\(which) refuses writes: \(why)"))
            case .ready:
                break
            }
            if engine.lastWriteFoundDiskFull {
                findings.append((.diskFull, "\(which): its last write found the disk full, and no space has been freed since"))
            }
        }
        if minFreeDiskBytes > 0, let free = database.defaultEngine.availableDiskBytes, free < minFreeDiskBytes {
            findings.append((.diskFull, "the data directory's filesystem has \(free) bytes free, below the \(minFreeDiskBytes) of --min-free-disk-bytes"))
        }
    }
}

import LynxStorage

/// One thing a check found. Paths are relative to the data directory.
public struct CheckFinding: Sendable, Equatable {
    public enum Severity: String, Sendable {
        /// A file fails its checks, or recovery would lose or refuse data: the store is not healthy.
        case damage
        /// Worth an operator's attention, and what recovery handles on its own (a torn tail, a running lynxd).
        case warning
        /// For the record (leftovers a start removes, stale bytes of an older generation).
        case note
    }

    public var severity: Severity
    public var file: String?
    public var message: String
}

/// A snapshot file and what was found in it.
public struct SnapshotCheck: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        /// Verifies (and, where recovery would load it, decodes with every row chunk file it refers to).
        case valid
        case damaged(String)
    }

    public var file: String
    public var seq: UInt64
    /// From its header; nil when the file does not verify.
    public var lastLSN: UInt64?
    public var status: Status
    /// The one recovery would load.
    public var chosen: Bool
    /// Only its checksums were verified (an older snapshot recovery does not need).
    public var checksumsOnly: Bool
    /// Row chunk files it refers to (decoded snapshots only), and those missing or invalid.
    public var rowChunks: Int
    public var damagedRowChunks: [String]
}

/// A log file and what was found in it.
public struct LogFileCheck: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// Replayed by recovery.
        case replayed(appliedFrames: Int, skippedFrames: Int)
        /// A generation the chosen snapshot already holds: recovery does not read it.
        case coveredBySnapshot
        /// Not replayed: it comes after a gap or after damage in an older generation.
        case notReplayed
        /// Its header does not verify (recovery refuses to start), or the file is shorter than a header (ignored).
        case unreadable
    }

    public var file: String
    public var bytes: UInt64
    public var header: WALHeader?
    public var headerError: String?
    public var role: Role
    /// The reader's result (nil for an unreadable header).
    public var result: WALRecoveryResult?
}

/// What recovery would do with this store.
public struct RecoveryPlanReport: Sendable, Equatable {
    public enum Continuation: Sendable, Equatable {
        case resume(file: String, offset: UInt64)
        case freshAfterDamage(generation: UInt64, firstLSN: UInt64)
        case create(generation: UInt64, firstLSN: UInt64)
    }

    /// The snapshot loaded (nil: the empty state at LSN 0).
    public var snapshotFile: String?
    public var snapshotSeq: UInt64
    public var snapshotLSN: UInt64
    /// Newer snapshots it would pass over as damaged.
    public var skippedSnapshots: [String]
    /// Frames replayed after the snapshot, in how many transactions, and the last LSN recovered.
    public var replayedFrames: Int
    public var replayedTransactions: Int
    public var lastLSN: UInt64
    /// Committed frames the snapshot already holds (read, not applied).
    public var skippedFrames: Int
    /// Bytes after the last valid commit frame that recovery ignores, per file, and why.
    public var ignoredTails: [IgnoredTail]
    /// Records and pending (not yet linked) records of the recovered state.
    public var records: Int
    public var pending: Int
    /// What becomes of the log (with the log enabled; with `--wal off` the recovered state is written to a snapshot
    /// and the log files are removed).
    public var continuation: Continuation
}

/// Bytes after a log file's last valid commit frame that recovery ignores (a torn tail, or stale frames).
public struct IgnoredTail: Sendable, Equatable {
    public var file: String
    public var offset: UInt64
    public var bytes: UInt64
    public var reason: WALStopReason
}

/// The check of one collection's store (the default collection: the data directory's root).
public struct StoreCheckReport: Sendable, Equatable {
    public var collection: String
    /// The store's folder, relative to the data directory ("" for the root).
    public var folder: String
    public var dimension: Int?
    public var metric: String?
    public var index: String?
    public var snapshots: [SnapshotCheck] = []
    public var logs: [LogFileCheck] = []
    /// Row chunk files present in `rows/`, and those no snapshot recovery loads refers to (removed at the next checkpoint).
    public var rowChunkFiles = 0
    public var unreferencedRowChunkFiles = 0
    /// nil when recovery would refuse to start or fail (the reason is a damage finding).
    public var recovery: RecoveryPlanReport?
    public var findings: [CheckFinding] = []

    public var isHealthy: Bool { !findings.contains { $0.severity == .damage } }
}

/// The check of a whole data directory: the default collection and every collection under `collections/`.
public struct DataDirectoryCheckReport: Sendable, Equatable {
    public var path: String
    /// The pid of a process holding the directory's lock while it was checked (0: unknown pid), nil if none.
    public var lockHolder: Int32?
    public var stores: [StoreCheckReport]
    /// Findings about the directory itself (the lock, the collections folder).
    public var findings: [CheckFinding]

    public var isHealthy: Bool { !findings.contains { $0.severity == .damage } && stores.allSatisfy(\.isHealthy) }
}

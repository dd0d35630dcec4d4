/// The name of a backup: 1 to 64 ASCII letters, digits, `_` and `-` (the rule of collection names), so it can
/// never name another directory or a hidden file. Its archive is `backups/<name>.tar` in the store's folder.
public struct BackupName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String

    public init?(_ text: String) {
        guard CollectionName.isValid(text) else { return nil }
        value = text
    }

    /// What a name may be, for error messages.
    public static let rule = "1 to 64 characters: ASCII letters, digits, '_' and '-'"

    public var description: String { value }
    public static func < (a: BackupName, b: BackupName) -> Bool { a.value < b.value }
}

/// One backup as `POST /snapshots` and `GET /snapshots` report it.
public struct BackupSummary: Sendable {
    public var name: BackupName
    /// Every write at or below this LSN is in the backup, none above it.
    public var lsn: UInt64
    public var checkpointSeq: UInt64
    public var records: UInt64
    /// Bytes of the archive.
    public var bytes: UInt64
    public var createdUnixMillis: UInt64
}

/// A backup's archive opened for reading; the receiver closes `file` (or hands it to whoever will).
public struct OpenedBackup: Sendable {
    public var fd: Int32
    public var bytes: UInt64
}

/// Why a backup operation was refused. (Storage failures while making one are `EngineError`s.)
public enum BackupError: Error, Sendable, Equatable {
    case invalidName(String)
    case alreadyExists(BackupName)
    case notFound(BackupName)
}

import LynxStorage

/// The frames of a store's log files for `lynxd dump-wal`, read through `ReadOnlyFileIO` by the log's own reader
/// (`WALReader.frames`): the valid prefix as replay reads it, then the frames after the point where replay stops.
public enum LogDump {
    public struct File: Sendable, Equatable {
        public var path: String
        public var header: WALHeader?
        /// Why the header is not valid, when it is not.
        public var headerError: String?
        public var bytes: UInt64
    }

    /// The log files of the store in `folder`, oldest generation first; files without a valid header last.
    public static func files(store folder: String) throws -> [File] {
        let files = try LogManager.fileNames.map { joinPath(folder, $0) }.filter { ReadOnlyFileIO().fileExists($0) }.map(file(at:))
        return files.sorted { a, b in
            switch (a.header, b.header) {
            case let (x?, y?): return x.checkpointSeq < y.checkpointSeq
            case (_?, nil): return true
            default: return false
            }
        }
    }

    /// One log file, by path (any name: a damaged log kept aside, a copy).
    public static func file(at path: String) throws -> File {
        let (header, error, size) = try WALReader(path: path, io: ReadOnlyFileIO()).readHeader()
        return File(path: path, header: header, headerError: error, bytes: size)
    }

    /// Every frame of one log file, in order; returns what replay makes of the file.
    public static func frames(of path: String, _ visit: (WALFrameReport) throws -> Void) throws -> WALRecoveryResult {
        try WALReader(path: path, io: ReadOnlyFileIO()).frames(visit)
    }

    /// The name of a metadata index type as a create-index frame codes it (docs/STORAGE_FORMATS.md), nil for an unknown code.
    public static func metadataIndexTypeName(code: UInt8) -> String? { MetadataIndexType(code: code)?.rawValue }
}

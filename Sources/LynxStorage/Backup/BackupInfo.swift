/// What a backup archive holds: the `BACKUP` entry, first in the archive (docs/BACKUP.md). UTF-8 text, one
/// `key=value` per line, ended by a `checksum=` line as in `MANIFEST`:
///
///     lynx-backup
///     format_version=1
///     created_unix_ms=1764644100000
///     lsn=1234                          every write at or below this LSN is in the backup, none above
///     checkpoint_seq=7                  the sequence of the snapshot inside
///     records=1000
///     dimension=384
///     metric=l2
///     index_type=hnsw
///     file=MANIFEST 123                 one line per stored file, in archive order: name, size in bytes
///     file=snapshot-00000000000000000007.lsnap 4567
///     file=rows/00a1b2c3d4e5f607.lrows 8192
///     checksum=1a2b3c4d                 crc32c of every byte before this line, 8 lower-case hex digits
public struct BackupInfo: Sendable, Equatable {
    public static let entryName = "BACKUP"
    public static let currentFormatVersion = 1

    public var formatVersion = BackupInfo.currentFormatVersion
    public var createdUnixMillis: UInt64
    public var lsn: UInt64
    public var checkpointSeq: UInt64
    public var records: UInt64
    public var dimension: Int
    public var metric: String
    public var indexType: String
    /// The store's files in archive order (names relative to the store directory) and their sizes.
    public var files: [(name: String, size: UInt64)]

    public init(createdUnixMillis: UInt64, lsn: UInt64, checkpointSeq: UInt64, records: UInt64, dimension: Int,
                metric: String, indexType: String, files: [(name: String, size: UInt64)]) {
        self.createdUnixMillis = createdUnixMillis
        self.lsn = lsn
        self.checkpointSeq = checkpointSeq
        self.records = records
        self.dimension = dimension
        self.metric = metric
        self.indexType = indexType
        self.files = files
    }

    public static func == (a: BackupInfo, b: BackupInfo) -> Bool {
        a.encoded() == b.encoded()
    }

    public func encoded() -> [UInt8] {
        var s = "lynx-backup\nformat_version=\(formatVersion)\ncreated_unix_ms=\(createdUnixMillis)\nlsn=\(lsn)\n"
        s += "checkpoint_seq=\(checkpointSeq)\nrecords=\(records)\ndimension=\(dimension)\nmetric=\(metric)\nindex_type=\(indexType)\n"
        for file in files { s += "file=\(file.name) \(file.size)\n" }
        return ChecksummedText.seal(s)
    }

    public static func decode(_ bytes: [UInt8]) throws -> BackupInfo {
        let lines = try ChecksummedText.open(bytes, firstLine: "lynx-backup", what: "BACKUP")
        var values: [String: String] = [:]
        var files: [(name: String, size: UInt64)] = []
        func corrupt(_ why: String) -> StorageError { .corrupt("BACKUP: \(why)") }
        for line in lines {
            guard let eq = line.firstIndex(of: "=") else { throw corrupt("line without '='") }
            let key = String(line[..<eq]), value = String(line[line.index(after: eq)...])
            if key == "file" {
                guard let space = value.lastIndex(of: " "), let size = UInt64(value[value.index(after: space)...]) else {
                    throw corrupt("bad file line")
                }
                files.append((String(value[..<space]), size))
            } else {
                guard values.updateValue(value, forKey: key) == nil else { throw corrupt("\(key) given twice") }
            }
        }
        func number(_ key: String) throws -> UInt64 {
            guard let text = values[key], let v = UInt64(text) else { throw corrupt("\(key) missing or not a number") }
            return v
        }
        guard try number("format_version") == UInt64(currentFormatVersion) else {
            throw corrupt("format_version \(values["format_version"] ?? "") is not \(currentFormatVersion)")
        }
        guard let metric = values["metric"], let index = values["index_type"] else { throw corrupt("metric or index_type missing") }
        let dimension = try number("dimension")
        guard dimension > 0, dimension <= 1 << 20 else { throw corrupt("dimension out of range") }
        return BackupInfo(createdUnixMillis: try number("created_unix_ms"), lsn: try number("lsn"),
                          checkpointSeq: try number("checkpoint_seq"), records: try number("records"),
                          dimension: Int(dimension), metric: metric, indexType: index, files: files)
    }
}

/// Text whose last line is `checksum=<crc32c of every byte before it, 8 lower-case hex digits>`, as `MANIFEST`.
enum ChecksummedText {
    static func seal(_ body: String) -> [UInt8] {
        let bytes = Array(body.utf8)
        return bytes + Array("checksum=\(hex8(CRC32C.checksum(bytes)))\n".utf8)
    }

    /// The lines between the first (which must be `firstLine`) and the checksum line, once the checksum matches.
    static func open(_ bytes: [UInt8], firstLine: String, what: String) throws -> [Substring] {
        func corrupt(_ why: String) -> StorageError { .corrupt("\(what): \(why)") }
        guard let text = String(validating: bytes, as: UTF8.self), text.hasSuffix("\n") else {
            throw corrupt("not UTF-8 text ending in a newline")
        }
        var lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(firstLine), let last = lines.last, last.hasPrefix("checksum=") else {
            throw corrupt("does not start with '\(firstLine)' or end with a checksum line")
        }
        let bodyCount = bytes.count - last.utf8.count - 1
        guard hex8(CRC32C.checksum(Array(bytes[0..<bodyCount]))) == last.dropFirst("checksum=".count) else {
            throw corrupt("checksum mismatch")
        }
        lines.removeFirst()
        lines.removeLast()
        return Array(lines)
    }

    static func hex8(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: 8 - h.count) + h
    }
}

/// A backup of one store as one POSIX tar (ustar) file (docs/BACKUP.md): `BACKUP` (what it is, `BackupInfo`),
/// the store's files (`MANIFEST`, one snapshot, the `rows/` directory and its row chunk files), then
/// `CHECKSUMS` (CRC-32C and size of every entry before it, itself sealed by a checksum line), then the two zero
/// blocks that end a tar. `tar tf` lists it and `tar xf` unpacks it; `lynxd restore` verifies and installs it.
///
/// Writing is staged: the archive is written to a temporary name beside its final one (`.<name>.tmp`), fsynced,
/// renamed, and the directory fsynced, so a crash leaves a whole archive or a temporary file, never half an
/// archive under its final name. Reading accepts only what the writer writes.
///
/// Stateless; safe from any thread (concurrent calls on different paths).
public enum BackupArchive {
    public static let checksumsEntryName = "CHECKSUMS"
    static let copyChunk = 1 << 20
    static let maxInfoBytes: UInt64 = 1 << 20
    static let maxChecksumsBytes: UInt64 = 64 << 20

    /// A verified archive: its description and where each stored file's bytes lie in it.
    public struct Verified: Sendable {
        public var info: BackupInfo
        public var files: [(name: String, offset: UInt64, size: UInt64, crc: UInt32)]
        /// Bytes of the archive.
        public var archiveBytes: UInt64
    }

    /// Writes the archive of `sources` (name in the archive, file to read) at `path`, described by `info` (whose
    /// `files` are filled in here), durably and atomically. Returns the info written and the archive's size.
    /// The sources must not change while they are copied (the store's snapshot and row chunk files never do).
    public static func write(to path: String, info: BackupInfo, sources: [(name: String, path: String)],
                             io: FileIO) throws -> (info: BackupInfo, bytes: UInt64) {
        for source in sources where !StoreFileName.isStored(source.name) {
            throw StorageError.invalidArgument("'\(source.name)' is not a store file a backup holds")
        }
        var info = info
        info.files = []
        for source in sources {
            let f = try io.open(source.path, mode: .readOnly)
            defer { try? io.close(f) }
            info.files.append((source.name, try io.fileSize(f)))
        }
        let tmp = joinPath(parentDirectory(of: path), "." + baseName(of: path) + ".tmp")
        let out = try io.open(tmp, mode: .createTruncate)
        var closed = false
        do {
            var w = Writer(out: out, io: io, mtime: info.createdUnixMillis / 1000)
            var checksums = ""
            func noteChecksum(_ crc: UInt32, _ size: UInt64, _ name: String) {
                checksums += "\(ChecksummedText.hex8(crc)) \(size) \(name)\n"
            }
            let infoBytes = info.encoded()
            noteChecksum(try w.add(name: BackupInfo.entryName, bytes: infoBytes), UInt64(infoBytes.count), BackupInfo.entryName)
            var directories: Set<String> = []
            for (source, described) in zip(sources, info.files) {
                if let slash = source.name.firstIndex(of: "/") {
                    let dir = String(source.name[...slash])
                    if directories.insert(dir).inserted { try w.addDirectory(dir) }
                }
                let crc = try w.add(name: source.name, copying: source.path, size: described.size)
                noteChecksum(crc, described.size, source.name)
            }
            _ = try w.add(name: checksumsEntryName, bytes: ChecksummedText.seal("lynx-backup-checksums\n" + checksums))
            try w.finish()
            try io.fsync(out)
            closed = true
            try io.close(out)
            try io.rename(tmp, to: path)
            try io.fsyncDirectory(parentDirectory(of: path))
            return (info, w.offset)
        } catch {
            if !closed { try? io.close(out) }
            try? io.unlink(tmp)
            throw error
        }
    }

    /// The `BACKUP` entry of an archive (reads only the archive's start).
    public static func readInfo(path: String, io: FileIO) throws -> BackupInfo {
        let f = try io.open(path, mode: .readOnly)
        defer { try? io.close(f) }
        var reader = try Reader(file: f, io: io)
        return try readInfoEntry(&reader)
    }

    /// Reads the whole archive and checks every header, entry, size and CRC-32C against `CHECKSUMS` and `BACKUP`.
    /// Throws `.corrupt` saying what failed; writes nothing.
    public static func verify(path: String, io: FileIO) throws -> Verified {
        let f = try io.open(path, mode: .readOnly)
        defer { try? io.close(f) }
        var reader = try Reader(file: f, io: io)
        let info = try readInfoEntry(&reader)
        var computed = [(name: BackupInfo.entryName, size: UInt64(info.encoded().count), crc: CRC32C.checksum(info.encoded()))]
        var files: [(name: String, offset: UInt64, size: UInt64, crc: UInt32)] = []
        var directories: Set<String> = []
        var checksums: [UInt8]?
        while let entry = try reader.next() {
            guard checksums == nil else { throw StorageError.corrupt("backup: an entry follows \(checksumsEntryName)") }
            switch entry.header.kind {
            case .directory:
                guard StoreFileName.isStoredDirectory(entry.header.name), entry.header.size == 0,
                      directories.insert(entry.header.name).inserted else {
                    throw StorageError.corrupt("backup: unexpected directory entry '\(entry.header.name)'")
                }
            case .file where entry.header.name == checksumsEntryName:
                guard entry.header.size <= maxChecksumsBytes else { throw StorageError.corrupt("backup: \(checksumsEntryName) too large") }
                checksums = try reader.readData(entry)
            case .file:
                let name = entry.header.name
                guard StoreFileName.isStored(name), !files.contains(where: { $0.name == name }) else {
                    throw StorageError.corrupt("backup: unexpected or repeated entry '\(name)'")
                }
                if let slash = name.firstIndex(of: "/"), !directories.contains(String(name[...slash])) {
                    throw StorageError.corrupt("backup: '\(name)' comes before its directory entry")
                }
                let crc = try copy(from: f, at: entry.dataOffset, count: entry.header.size, to: nil, io: io)
                files.append((name, entry.dataOffset, entry.header.size, crc))
                computed.append((name, entry.header.size, crc))
            }
        }
        guard let checksums else { throw StorageError.corrupt("backup: no \(checksumsEntryName) entry (the archive is cut short)") }
        let expected = try ChecksummedText.open(checksums, firstLine: "lynx-backup-checksums", what: checksumsEntryName)
        let actual = computed.map { "\(ChecksummedText.hex8($0.crc)) \($0.size) \($0.name)" }
        guard expected.map(String.init) == actual else {
            let bad = zip(expected, actual).first { $0.0 != $0.1 }.map { "'\($0.1)' where \(checksumsEntryName) says '\($0.0)'" }
            throw StorageError.corrupt("backup: checksums do not match: \(bad ?? "\(actual.count) entries, \(expected.count) listed")")
        }
        guard info.files.map(\.name) == files.map(\.name), info.files.map(\.size) == files.map(\.size) else {
            throw StorageError.corrupt("backup: the entries differ from the files BACKUP lists")
        }
        guard files.filter({ $0.name == Manifest.fileName }).count == 1,
              files.filter({ SnapshotFile.sequence(fromFileName: $0.name) != nil }).count == 1 else {
            throw StorageError.corrupt("backup: it must hold exactly one MANIFEST and one snapshot")
        }
        return Verified(info: info, files: files, archiveBytes: reader.fileSize)
    }

    /// Copies the verified archive's store files into `directory` (which exists), each fsynced, the directories
    /// too. Each file's CRC is checked again as it is copied (the archive may have changed since `verify`).
    public static func extract(_ verified: Verified, from path: String, into directory: String, io: FileIO) throws {
        let f = try io.open(path, mode: .readOnly)
        defer { try? io.close(f) }
        var directories: [String] = []
        for file in verified.files {
            if let slash = file.name.firstIndex(of: "/") {
                let dir = joinPath(directory, String(file.name[..<slash]))
                if !directories.contains(dir) {
                    try io.createDirectory(dir)
                    directories.append(dir)
                }
            }
            let target = joinPath(directory, file.name)
            let out = try io.open(target, mode: .createTruncate)
            do {
                let crc = try copy(from: f, at: file.offset, count: file.size, to: out, io: io)
                guard crc == file.crc else { throw StorageError.corrupt("backup: '\(file.name)' changed since it was verified") }
                try io.fsync(out)
                try io.close(out)
            } catch {
                try? io.close(out)
                throw error
            }
        }
        for dir in directories { try io.fsyncDirectory(dir) }
        try io.fsyncDirectory(directory)
    }

    // MARK: - Parts

    private static func readInfoEntry(_ reader: inout Reader) throws -> BackupInfo {
        guard let first = try reader.next(), first.header.kind == .file, first.header.name == BackupInfo.entryName,
              first.header.size <= maxInfoBytes else {
            throw StorageError.corrupt("backup: the archive does not start with a BACKUP entry")
        }
        return try BackupInfo.decode(try reader.readData(first))
    }

    /// Reads `count` bytes at `offset` of `source` (writing them at the same relative place of `target` from 0
    /// when given) and returns their CRC-32C.
    static func copy(from source: OpenFile, at offset: UInt64, count: UInt64, to target: OpenFile?, targetOffset: UInt64 = 0,
                     io: FileIO) throws -> UInt32 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: copyChunk, alignment: 4096)
        defer { buffer.deallocate() }
        var crc: UInt32 = 0
        var done: UInt64 = 0
        while done < count {
            let n = Int(min(UInt64(copyChunk), count - done))
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            guard try io.preadFully(source, into: chunk, at: offset + done) == n else {
                throw StorageError.corrupt("\(source.path): shorter than expected")
            }
            crc = CRC32C.extend(crc, UnsafeRawBufferPointer(chunk))
            if let target { try io.pwriteFully(target, UnsafeRawBufferPointer(chunk), at: targetOffset + done) }
            done += UInt64(n)
        }
        return crc
    }

    static func baseName(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    /// Appends tar entries to a file from offset 0.
    struct Writer {
        let out: OpenFile
        let io: FileIO
        let mtime: UInt64
        private(set) var offset: UInt64 = 0

        init(out: OpenFile, io: FileIO, mtime: UInt64) {
            self.out = out
            self.io = io
            self.mtime = mtime
        }

        mutating func add(name: String, bytes: [UInt8]) throws -> UInt32 {
            try put(TarHeader(name: name, kind: .file, size: UInt64(bytes.count), modificationTime: mtime).encoded())
            try put(bytes)
            try pad(UInt64(bytes.count))
            return CRC32C.checksum(bytes)
        }

        mutating func addDirectory(_ name: String) throws {
            try put(TarHeader(name: name, kind: .directory, size: 0, modificationTime: mtime).encoded())
        }

        mutating func add(name: String, copying path: String, size: UInt64) throws -> UInt32 {
            try put(TarHeader(name: name, kind: .file, size: size, modificationTime: mtime).encoded())
            let source = try io.open(path, mode: .readOnly)
            defer { try? io.close(source) }
            let crc = try BackupArchive.copy(from: source, at: 0, count: size, to: out, targetOffset: offset, io: io)
            offset += size
            try pad(size)
            return crc
        }

        /// The end of the archive: two zero blocks.
        mutating func finish() throws {
            try put([UInt8](repeating: 0, count: 2 * TarHeader.blockSize))
        }

        private mutating func pad(_ size: UInt64) throws {
            let n = TarHeader.padding(after: size)
            if n > 0 { try put([UInt8](repeating: 0, count: n)) }
        }

        private mutating func put(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try io.pwriteFully(out, $0, at: offset) }
            offset += UInt64(bytes.count)
        }
    }

    /// Walks a tar file's entries in order. `next` returns nil at the end marker, after checking that nothing
    /// but zeros follows it.
    struct Reader {
        let file: OpenFile
        let io: FileIO
        let fileSize: UInt64
        private var offset: UInt64 = 0

        struct Entry {
            var header: TarHeader
            var dataOffset: UInt64
        }

        init(file: OpenFile, io: FileIO) throws {
            self.file = file
            self.io = io
            fileSize = try io.fileSize(file)
        }

        mutating func next() throws -> Entry? {
            let block = try read(TarHeader.blockSize, at: offset, what: "a header")
            if block.allSatisfy({ $0 == 0 }) {
                guard try read(TarHeader.blockSize, at: offset + UInt64(TarHeader.blockSize), what: "the end marker").allSatisfy({ $0 == 0 }) else {
                    throw StorageError.corrupt("backup: a zero block inside the archive")
                }
                try checkZerosToEnd(from: offset + UInt64(2 * TarHeader.blockSize))
                return nil
            }
            let header = try TarHeader.decode(block)
            let dataOffset = offset + UInt64(TarHeader.blockSize)
            let (end, overflow) = dataOffset.addingReportingOverflow(header.size + UInt64(TarHeader.padding(after: header.size)))
            guard !overflow, end <= fileSize else {
                throw StorageError.corrupt("backup: entry '\(header.name)' runs past the end of the archive (cut short?)")
            }
            let padding = TarHeader.padding(after: header.size)
            guard try read(padding, at: dataOffset + header.size, what: "padding").allSatisfy({ $0 == 0 }) else {
                throw StorageError.corrupt("backup: the padding after '\(header.name)' is not zeros")
            }
            offset = end
            return Entry(header: header, dataOffset: dataOffset)
        }

        func readData(_ entry: Entry) throws -> [UInt8] {
            try read(Int(entry.header.size), at: entry.dataOffset, what: "'\(entry.header.name)'")
        }

        private func read(_ count: Int, at offset: UInt64, what: String) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let n = try bytes.withUnsafeMutableBytes { try io.preadFully(file, into: $0, at: offset) }
            guard n == count else { throw StorageError.corrupt("backup: the archive ends inside \(what) (cut short?)") }
            return bytes
        }

        private func checkZerosToEnd(from start: UInt64) throws {
            var at = start
            while at < fileSize {
                let n = Int(min(UInt64(BackupArchive.copyChunk), fileSize - at))
                guard try read(n, at: at, what: "the padding").allSatisfy({ $0 == 0 }) else {
                    throw StorageError.corrupt("backup: bytes follow the end of the archive")
                }
                at += UInt64(n)
            }
        }
    }
}

/// The names of the store files a backup holds, relative to the store directory.
public enum StoreFileName {
    /// The store's replication term history (written by LynxReplication; docs/REPLICATION.md), kept with the
    /// snapshot in a backup so that a replica started from it knows which leader wrote which part of its log.
    public static let termHistory = "TERMS"

    static func isStored(_ name: String) -> Bool {
        if name == Manifest.fileName || name == termHistory { return true }
        if let seq = SnapshotFile.sequence(fromFileName: name), name == SnapshotFile.fileName(checkpointSeq: seq) { return true }
        let rows = RowChunkFile.directoryName + "/"
        if name.hasPrefix(rows), let token = RowChunkFile.token(fromFileName: String(name.dropFirst(rows.count))) {
            return name == rows + RowChunkFile.fileName(token: token)
        }
        return false
    }

    static func isStoredDirectory(_ name: String) -> Bool { name == RowChunkFile.directoryName + "/" }
}

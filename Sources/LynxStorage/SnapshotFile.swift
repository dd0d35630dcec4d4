import Foundation
import LynxSupport

/// One tagged section of a snapshot (the engine decides what tags mean).
public struct SnapshotSection: Sendable, Equatable {
    public var tag: UInt32
    public var bytes: [UInt8]
    public init(tag: UInt32, bytes: [UInt8]) { self.tag = tag; self.bytes = bytes }
}

/// One section of a snapshot produced on demand: `produce` calls `emit` with the section's bytes, in order, in
/// pieces of any size. It may be called again if the file has to be started over (see `SnapshotFile.write`).
public struct StreamedSection {
    public var tag: UInt32
    public var produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    public init(tag: UInt32, produce: @escaping (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) {
        self.tag = tag
        self.produce = produce
    }
}

/// A checkpoint image: everything up to `lastLSN`, as opaque sections.
public struct Snapshot: Sendable, Equatable {
    public var checkpointSeq: UInt64
    public var lastLSN: UInt64
    public var sections: [SnapshotSection]
    public init(checkpointSeq: UInt64, lastLSN: UInt64, sections: [SnapshotSection]) {
        self.checkpointSeq = checkpointSeq
        self.lastLSN = lastLSN
        self.sections = sections
    }
    public func section(_ tag: UInt32) -> SnapshotSection? { sections.first { $0.tag == tag } }
}

/// Snapshot files: `snapshot-<checkpointSeq, 20 digits>.lsnap` in the data directory.
///
/// Layout (little-endian; docs/STORAGE_FORMATS.md has the full table):
///   header  36 bytes: "LYSN", u16 version=1, u16 flags=0, u64 checkpointSeq, u64 lastLSN, u32 sectionCount,
///                     u32 reserved=0, u32 crc32c(bytes 0..<32)
///   per section: u32 tag, u32 crc32c(section bytes), u64 length, bytes
///   trailer  8 bytes: u32 crc32c(every byte before the trailer), "LYSE"
///
/// Stateless; every function may be called from any thread. Two writers must not write the same sequence.
public enum SnapshotFile {
    public static let magic: [UInt8] = [0x4C, 0x59, 0x53, 0x4E]     // "LYSN"
    public static let endMagic: [UInt8] = [0x4C, 0x59, 0x53, 0x45]  // "LYSE"
    public static let version: UInt16 = 1
    public static let headerSize = 36
    public static let sectionHeaderSize = 16
    public static let trailerSize = 8
    public static let prefix = "snapshot-"
    public static let suffix = ".lsnap"

    public static func fileName(checkpointSeq: UInt64) -> String {
        let digits = String(checkpointSeq)
        return prefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// The sequence in a snapshot file name, nil for other names (including `.tmp` files).
    public static func sequence(fromFileName name: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let mid = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard mid.count == 20, mid.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(mid)
    }

    /// Writes `snapshot` into `dir` durably and atomically; returns the final path.
    /// Steps: write `<name>.tmp` → fsync it → rename to `<name>` → fsync the directory.
    @discardableResult
    public static func write(_ snapshot: Snapshot, dir: String, io: FileIO = SystemFileIO()) throws -> String {
        let sections = snapshot.sections.map { section in
            StreamedSection(tag: section.tag) { emit in try section.bytes.withUnsafeBytes { try emit($0) } }
        }
        return try write(checkpointSeq: snapshot.checkpointSeq, lastLSN: snapshot.lastLSN, sections: sections, dir: dir, io: io)
    }

    /// As `write(_:dir:io:)`, with sections produced on demand instead of held in memory, in one pass: each
    /// section's header (whose length and checksum the format puts before the bytes) is reserved and filled in
    /// once the section has been produced (`StagedFileWriter.patch`). So a snapshot of the whole store needs no
    /// whole-store buffer and serialises and checksums each byte once. `produce` runs once more when the device
    /// refuses direct I/O at the first write and the file is started over through the page cache.
    /// `beforeRename` runs once the temporary file is durable, before the rename that makes the snapshot count:
    /// the place to make durable whatever the snapshot refers to (row chunk files).
    @discardableResult
    public static func write(checkpointSeq: UInt64, lastLSN: UInt64, sections: [StreamedSection], dir: String,
                             io: FileIO = SystemFileIO(), beforeRename: () throws -> Void = {}) throws -> String {
        do {
            return try write(checkpointSeq, lastLSN, sections, dir: dir, io: io, direct: true, beforeRename: beforeRename)
        } catch StorageError.io(let failure) where failure.errno == EINVAL && failure.syscall == "pwrite" {
            // The device wants a larger alignment than StagedFileWriter's 4096 bytes: write through the page cache.
            return try write(checkpointSeq, lastLSN, sections, dir: dir, io: io, direct: false, beforeRename: beforeRename)
        }
    }

    private static func write(_ checkpointSeq: UInt64, _ lastLSN: UInt64, _ sections: [StreamedSection], dir: String,
                              io: FileIO, direct: Bool, beforeRename: () throws -> Void) throws -> String {
        let final = joinPath(dir, fileName(checkpointSeq: checkpointSeq))
        let tmp = final + ".tmp"
        let out = try StagedFileWriter(path: tmp, io: io, direct: direct)
        do {
            var w = BinaryWriter()
            w.write(contentsOf: magic)
            w.write(version)
            w.write(UInt16(0))
            w.write(checkpointSeq)
            w.write(lastLSN)
            w.write(UInt32(sections.count))
            w.write(UInt32(0))
            w.write(CRC32C.checksum(w.bytes))
            var fileCRC: UInt32 = 0
            func put(_ bytes: UnsafeRawBufferPointer) throws {
                try out.write(bytes)
                fileCRC = CRC32C.extend(fileCRC, bytes)
            }
            try w.bytes.withUnsafeBytes { try put($0) }
            for s in sections {
                // One pass: the section header (tag, checksum, length) is reserved and filled in after the bytes.
                let headerOffset = try out.reserve(sectionHeaderSize)
                var length: UInt64 = 0
                var crc: UInt32 = 0
                try s.produce { piece in
                    try out.write(piece)
                    length += UInt64(piece.count)
                    crc = CRC32C.extend(crc, piece)
                }
                var sh = BinaryWriter()
                sh.write(s.tag)
                sh.write(crc)
                sh.write(length)
                try out.patch(at: headerOffset, sh.bytes)
                // The whole-file checksum runs over the header, then takes the section's by combination.
                fileCRC = CRC32C.combine(CRC32C.extend(fileCRC, sh.bytes), crc, lengthB: length)
            }
            var tr = BinaryWriter()
            tr.write(fileCRC)
            tr.write(contentsOf: endMagic)
            try out.write(tr.bytes)
            try out.finish()
            try io.fsync(out.file)              // durability 1: the temp file's content (and its length)
        } catch {
            try? io.close(out.file)
            try? io.unlink(tmp)
            throw error
        }
        do {
            // Outside the block above: a close that fails has released the descriptor all the same, and a
            // second close could close a descriptor another thread has been given since.
            try io.close(out.file)
        } catch {
            try? io.unlink(tmp)
            throw error
        }
        do {
            try beforeRename()                  // durability 1b: what the snapshot refers to
        } catch {
            try? io.unlink(tmp)
            throw error
        }
        try io.rename(tmp, to: final)           // durability 2: atomic switch to the complete file
        try io.fsyncDirectory(dir)              // durability 3: the rename itself
        return final
    }

    /// Reads and fully verifies a snapshot: magic, version, header checksum, every section checksum, the
    /// whole-file checksum and the exact file length. Any mismatch throws `.corrupt`.
    public static func read(path: String, io: FileIO = SystemFileIO()) throws -> Snapshot {
        let f = try io.open(path, mode: .readOnly)
        defer { try? io.close(f) }
        let size = try io.fileSize(f)
        func corrupt(_ why: String) -> StorageError { .corrupt("snapshot \(path): \(why)") }
        func readBytes(_ n: Int, at off: UInt64) throws -> [UInt8] {
            guard off + UInt64(n) <= size else { throw corrupt("truncated (needs \(off + UInt64(n)) bytes, has \(size))") }
            var b = [UInt8](repeating: 0, count: n)
            let got = try b.withUnsafeMutableBytes { try io.preadFully(f, into: $0, at: off) }
            guard got == n else { throw corrupt("short read at \(off)") }
            return b
        }
        let h = try readBytes(headerSize, at: 0)
        guard Array(h[0..<4]) == magic else { throw corrupt("bad magic") }
        guard h.le32(at: 32) == CRC32C.checksum(Array(h[0..<32])) else { throw corrupt("header checksum mismatch") }
        guard h.le16(at: 4) == version else { throw corrupt("unsupported version \(h.le16(at: 4))") }
        let seq = h.le64(at: 8)
        let lsn = h.le64(at: 16)
        let count = Int(h.le32(at: 24))
        var fileCRC = CRC32C.checksum(h)
        var off = UInt64(headerSize)
        var sections: [SnapshotSection] = []
        sections.reserveCapacity(min(count, 1024))
        for i in 0..<count {
            let sh = try readBytes(sectionHeaderSize, at: off)
            fileCRC = CRC32C.extend(fileCRC, sh)
            off += UInt64(sectionHeaderSize)
            let len = sh.le64(at: 8)
            guard len <= size - off else { throw corrupt("section \(i) length \(len) runs past the end of the file") }
            let bytes = try readBytes(Int(len), at: off)
            let sectionCRC = CRC32C.checksum(bytes)
            guard sectionCRC == sh.le32(at: 4) else { throw corrupt("section \(i) (tag \(sh.le32(at: 0))) checksum mismatch") }
            fileCRC = CRC32C.combine(fileCRC, sectionCRC, lengthB: len)
            off += len
            sections.append(SnapshotSection(tag: sh.le32(at: 0), bytes: bytes))
        }
        let tr = try readBytes(trailerSize, at: off)
        guard Array(tr[4..<8]) == endMagic else { throw corrupt("bad trailer magic") }
        guard tr.le32(at: 0) == fileCRC else { throw corrupt("whole-file checksum mismatch") }
        guard off + UInt64(trailerSize) == size else { throw corrupt("\(size - off - UInt64(trailerSize)) unexpected bytes after the trailer") }
        return Snapshot(checkpointSeq: seq, lastLSN: lsn, sections: sections)
    }

    /// Snapshot files in `dir`, oldest first (by the sequence in the name). `.tmp` files are not listed.
    public static func list(dir: String, io: FileIO = SystemFileIO()) throws -> [(checkpointSeq: UInt64, path: String)] {
        try io.listDirectory(dir)
            .compactMap { name in sequence(fromFileName: name).map { ($0, joinPath(dir, name)) } }
            .sorted { $0.0 < $1.0 }
    }

    public struct Loaded: Sendable {
        public var snapshot: Snapshot
        public var path: String
        /// Newer snapshots that failed verification (path and error), newest first.
        public var rejected: [(path: String, error: StorageError)]
    }

    /// The newest snapshot that verifies, falling back to older ones when newer ones are corrupt.
    /// nil when there is none (the `rejected` list is lost then; call `list` + `read` to inspect).
    /// I/O errors other than corruption are thrown, not skipped. Paths in `skipping` are not considered.
    public static func loadNewestValid(dir: String, io: FileIO = SystemFileIO(), skipping: Set<String> = []) throws -> Loaded? {
        var rejected: [(path: String, error: StorageError)] = []
        for (_, path) in try list(dir: dir, io: io).reversed() where !skipping.contains(path) {
            do {
                return Loaded(snapshot: try read(path: path, io: io), path: path, rejected: rejected)
            } catch let e as StorageError {
                if case .corrupt = e { rejected.append((path, e)); continue }
                throw e
            }
        }
        return nil
    }

    /// Deletes snapshots with a sequence below `checkpointSeq`, and leftover `snapshot-*.tmp` files,
    /// then fsyncs the directory. Returns the deleted paths.
    @discardableResult
    public static func deleteOlder(than checkpointSeq: UInt64, dir: String, io: FileIO = SystemFileIO()) throws -> [String] {
        var deleted: [String] = []
        for name in try io.listDirectory(dir) {
            let doomed: Bool
            if let s = sequence(fromFileName: name) { doomed = s < checkpointSeq }
            else { doomed = name.hasPrefix(prefix) && name.hasSuffix(suffix + ".tmp") }
            if doomed {
                let p = joinPath(dir, name)
                try io.unlink(p)
                deleted.append(p)
            }
        }
        if !deleted.isEmpty { try io.fsyncDirectory(dir) }
        return deleted
    }
}

import Foundation
import LynxStorage
import XCTest

/// Backup archives (docs/BACKUP.md): POSIX tar that `tar` reads, verified entry by entry before anything is
/// unpacked, written staged so a failure leaves no archive.
final class BackupArchiveTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = makeTempDir("lynx-backup") }
    override func tearDown() { removeDir(dir) }

    let snapshotName = SnapshotFile.fileName(checkpointSeq: 7)
    let rowNames = ["rows/" + RowChunkFile.fileName(token: 0xA1), "rows/" + RowChunkFile.fileName(token: 0xB2)]

    /// A store folder with a manifest, a snapshot and two row chunk files of assorted sizes (none a multiple of
    /// 512, one empty-ish), and the sources for `write`.
    func makeStore() throws -> (path: String, sources: [(name: String, path: String)]) {
        let store = dir + "/store"
        mkdir(store, 0o755)
        mkdir(store + "/rows", 0o755)
        var random = SplitMix(state: 42)
        let sizes = [137, 70_001, 4096 * 3 + 5, 1]
        let names = [Manifest.fileName, snapshotName] + rowNames
        for (name, size) in zip(names, sizes) {
            writeFile(store + "/" + name, (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
        return (store, names.map { ($0, store + "/" + $0) })
    }

    func info() -> BackupInfo {
        BackupInfo(createdUnixMillis: 1_764_644_100_123, lsn: 1234, checkpointSeq: 7, records: 99, dimension: 8,
                   metric: "cosine", indexType: "hnsw", files: [])
    }

    func testRoundTripAndTarReadsIt() throws {
        let (store, sources) = try makeStore()
        let archive = dir + "/b.tar"
        let (written, bytes) = try BackupArchive.write(to: archive, info: info(), sources: sources, io: SystemFileIO())
        XCTAssertEqual(bytes, fileSize(archive))
        XCTAssertEqual(written.files.map(\.name), sources.map(\.name))
        XCTAssertEqual(written.files.map(\.size), sources.map { fileSize($0.path) })
        XCTAssertEqual(try BackupArchive.readInfo(path: archive, io: SystemFileIO()), written)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.b.tar.tmp"), "the temporary file is renamed")

        let verified = try BackupArchive.verify(path: archive, io: SystemFileIO())
        XCTAssertEqual(verified.info, written)
        XCTAssertEqual(verified.files.map(\.name), sources.map(\.name))
        let out = dir + "/out"
        mkdir(out, 0o755)
        try BackupArchive.extract(verified, from: archive, into: out, io: SystemFileIO())
        for source in sources {
            XCTAssertEqual(readFile(out + "/" + source.name), readFile(store + "/" + source.name), source.name)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), [Manifest.fileName, "rows", snapshotName].sorted())

        // GNU tar lists and unpacks the same files, bit for bit.
        let listed = try run("/usr/bin/tar", ["tf", archive]).split(separator: "\n").map(String.init)
        XCTAssertEqual(listed, ["BACKUP", Manifest.fileName, snapshotName, "rows/"] + rowNames + ["CHECKSUMS"])
        let unpacked = dir + "/tar"
        mkdir(unpacked, 0o755)
        _ = try run("/usr/bin/tar", ["xf", archive, "-C", unpacked])
        for source in sources {
            XCTAssertEqual(readFile(unpacked + "/" + source.name), readFile(source.path), source.name)
        }
        XCTAssertEqual(try BackupInfo.decode(readFile(unpacked + "/BACKUP")), written)
    }

    func testEveryDamagedByteOrCutIsRefused() throws {
        let (_, sources) = try makeStore()
        let archive = dir + "/b.tar"
        _ = try BackupArchive.write(to: archive, info: info(), sources: sources, io: SystemFileIO())
        let good = readFile(archive)
        var random = SplitMix(state: 7)
        let damaged = dir + "/damaged.tar"
        // A flipped bit anywhere (headers, data, padding, checksums, the end marker) is refused.
        for _ in 0..<300 {
            var bytes = good
            let at = Int(random.next() % UInt64(bytes.count))
            bytes[at] ^= UInt8(1 << (random.next() % 8))
            writeFile(damaged, bytes)
            XCTAssertThrowsError(try BackupArchive.verify(path: damaged, io: SystemFileIO()), "a flip at \(at)")
        }
        for cut in [0, 100, 512, 513, 2048, good.count / 2, good.count - 1025, good.count - 1024, good.count - 1] {
            writeFile(damaged, Array(good[0..<cut]))
            XCTAssertThrowsError(try BackupArchive.verify(path: damaged, io: SystemFileIO()), "cut at \(cut)") { error in
                guard case StorageError.corrupt = error else { return XCTFail("\(error)") }
            }
        }
        writeFile(damaged, good + [1])
        XCTAssertThrowsError(try BackupArchive.verify(path: damaged, io: SystemFileIO()), "bytes after the end")
    }

    func testEntriesWithForeignNamesAreRefused() throws {
        for bad in ["../MANIFEST", "/etc/passwd", "rows/../../x", "snapshot-7.lsnap", "rows/ABC.lrows", "LOCK", "wal-0.log"] {
            var tar: [UInt8] = []
            let infoBytes = info().encoded()
            tar += try TarHeader(name: "BACKUP", kind: .file, size: UInt64(infoBytes.count), modificationTime: 0).encoded()
            tar += infoBytes + [UInt8](repeating: 0, count: TarHeader.padding(after: UInt64(infoBytes.count)))
            tar += try TarHeader(name: bad, kind: .file, size: 1, modificationTime: 0).encoded()
            tar += [0x41] + [UInt8](repeating: 0, count: 511) + [UInt8](repeating: 0, count: 1024)
            writeFile(dir + "/bad.tar", tar)
            XCTAssertThrowsError(try BackupArchive.verify(path: dir + "/bad.tar", io: SystemFileIO()), bad) { error in
                XCTAssertTrue("\(error)".contains("unexpected"), "\(bad): \(error)")
            }
        }
    }

    func testFailedWriteLeavesNoArchive() throws {
        let (_, sources) = try makeStore()
        for after in [0, 3, 10] {
            let io = FaultInjectingFileIO()
            io.failWrites(errno: ENOSPC, after: after)
            let archive = dir + "/fail.tar"
            XCTAssertThrowsError(try BackupArchive.write(to: archive, info: info(), sources: sources, io: io)) { error in
                guard case StorageError.noSpace = error else { return XCTFail("\(error)") }
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("fail") }, [],
                           "after \(after) writes: neither the archive nor its temporary file remains")
        }
        XCTAssertThrowsError(try BackupArchive.write(to: dir + "/x.tar", info: info(), sources: [("../etc", sources[0].path)],
                                                     io: SystemFileIO()))
    }

    func testHeaderFields() throws {
        let big = TarHeader(name: "snapshot-00000000000000000001.lsnap", kind: .file, size: (1 << 33) + 12345, modificationTime: 1_764_644_100)
        let encoded = try big.encoded()
        XCTAssertEqual(encoded[124], 0x80, "sizes of 8 GiB and more use the base-256 form")
        XCTAssertEqual(try TarHeader.decode(encoded), big)
        let small = TarHeader(name: "rows/", kind: .directory, size: 0, modificationTime: 5)
        let smallBytes = try small.encoded()
        XCTAssertEqual(String(decoding: smallBytes[124..<136], as: UTF8.self), "00000000000\0")
        XCTAssertEqual(try TarHeader.decode(smallBytes), small)
        XCTAssertThrowsError(try TarHeader(name: String(repeating: "a", count: 101), kind: .file, size: 0, modificationTime: 0).encoded())
        var tampered = smallBytes
        tampered[0] ^= 1
        XCTAssertThrowsError(try TarHeader.decode(tampered), "header checksum")
    }

    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "\(tool) \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }
}

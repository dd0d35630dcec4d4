import Foundation
import LynxStorage
import XCTest

final class SnapshotTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = makeTempDir() }
    override func tearDown() { removeDir(dir) }

    func sample(_ seq: UInt64) -> Snapshot {
        Snapshot(checkpointSeq: seq, lastLSN: seq * 100, sections: [
            SnapshotSection(tag: 1, bytes: Array("vectors-\(seq)".utf8)),
            SnapshotSection(tag: 2, bytes: []),
            SnapshotSection(tag: 0xFFFF_FFFF, bytes: (0..<300).map { UInt8($0 & 0xFF) }),
        ])
    }

    func testRoundTrip() throws {
        let s = sample(3)
        let p = try SnapshotFile.write(s, dir: dir)
        XCTAssertTrue(p.hasSuffix("snapshot-00000000000000000003.lsnap"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + ".tmp"))
        XCTAssertEqual(try SnapshotFile.read(path: p), s)
        XCTAssertEqual(try SnapshotFile.read(path: p).section(2), SnapshotSection(tag: 2, bytes: []))
    }

    func testEveryFlippedByteIsCorrupt() throws {
        let p = try SnapshotFile.write(sample(1), dir: dir)
        let bytes = readFile(p)
        for i in 0..<bytes.count {
            var d = bytes
            d[i] ^= UInt8(1 << (i % 8))
            writeFile(p, d)
            assertStorageError({ _ = try SnapshotFile.read(path: p) }) { if case .corrupt = $0 { return true } else { return false } }
        }
        writeFile(p, Array(bytes.dropLast()))
        assertStorageError({ _ = try SnapshotFile.read(path: p) }) { if case .corrupt = $0 { return true } else { return false } }
        writeFile(p, bytes + [0])
        assertStorageError({ _ = try SnapshotFile.read(path: p) }) { if case .corrupt = $0 { return true } else { return false } }
    }

    func testNewestValidFallsBackAndOldOnesAreDeleted() throws {
        for seq: UInt64 in [1, 2, 10] { try SnapshotFile.write(sample(seq), dir: dir) }
        writeFile(dir + "/snapshot-00000000000000000011.lsnap.tmp", [1, 2, 3]) // a crashed write
        writeFile(dir + "/unrelated", [1])
        XCTAssertEqual(try SnapshotFile.list(dir: dir).map(\.checkpointSeq), [1, 2, 10])
        XCTAssertEqual(try SnapshotFile.loadNewestValid(dir: dir)?.snapshot, sample(10))
        // corrupt the newest: fall back to 2
        let newest = dir + "/" + SnapshotFile.fileName(checkpointSeq: 10)
        var b = readFile(newest)
        b[b.count / 2] ^= 0x40
        writeFile(newest, b)
        let loaded = try XCTUnwrap(SnapshotFile.loadNewestValid(dir: dir))
        XCTAssertEqual(loaded.snapshot, sample(2))
        XCTAssertEqual(loaded.rejected.map(\.path), [newest])
        // delete older than 2: removes 1 and the stale tmp
        let deleted = try SnapshotFile.deleteOlder(than: 2, dir: dir)
        XCTAssertEqual(Set(deleted.map { ($0 as NSString).lastPathComponent }),
                       ["snapshot-00000000000000000001.lsnap", "snapshot-00000000000000000011.lsnap.tmp"])
        XCTAssertEqual(try SnapshotFile.list(dir: dir).map(\.checkpointSeq), [2, 10])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/unrelated"))
    }

    func testWriteFailureLeavesNoFile() throws {
        let io = FaultInjectingFileIO()
        io.fail(.fsync, errno: EIO)
        assertStorageError({ try SnapshotFile.write(sample(4), dir: dir, io: io) }) { if case .syncFailed = $0 { return true } else { return false } }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        // A small snapshot is one staged write: fail it.
        io.failWrites(errno: ENOSPC, after: 0)
        assertStorageError({ try SnapshotFile.write(sample(4), dir: dir, io: io) }) { if case .noSpace = $0 { return true } else { return false } }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        XCTAssertNil(try SnapshotFile.loadNewestValid(dir: dir))
        // A large one is written in 4 MiB chunks: fail the second.
        let big = Snapshot(checkpointSeq: 5, lastLSN: 500, sections: [SnapshotSection(tag: 2, bytes: [UInt8](repeating: 7, count: 9 << 20))])
        let io2 = FaultInjectingFileIO()
        io2.failWrites(errno: ENOSPC, after: 1)
        assertStorageError({ try SnapshotFile.write(big, dir: dir, io: io2) }) { if case .noSpace = $0 { return true } else { return false } }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    /// A device that refuses the direct write's alignment (EINVAL from pwrite) gets the snapshot through the page
    /// cache instead, whole and valid.
    func testDirectWriteRefusedFallsBackToPageCache() throws {
        let io = FaultInjectingFileIO()
        io.fail(.pwrite, errno: EINVAL)
        let path = try SnapshotFile.write(sample(6), dir: dir, io: io)
        XCTAssertEqual(try SnapshotFile.read(path: path), sample(6))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["snapshot-00000000000000000006.lsnap"])
    }

    /// Snapshots go out in aligned chunks (O_DIRECT where the filesystem allows it) and are cut back to their
    /// exact length: sizes around the chunk and block boundaries read back identical.
    func testChunkedWriteKeepsExactLength() throws {
        for size in [0, 1, 4095, 4096, 4097, (4 << 20) - 60, (4 << 20) - 59, (4 << 20) + 1, (9 << 20) + 123] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let snapshot = Snapshot(checkpointSeq: UInt64(size), lastLSN: 1, sections: [SnapshotSection(tag: 2, bytes: bytes)])
            let path = try SnapshotFile.write(snapshot, dir: dir)
            let expected = SnapshotFile.headerSize + SnapshotFile.sectionHeaderSize + size + SnapshotFile.trailerSize
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, expected, "size \(size)")
            XCTAssertEqual(try SnapshotFile.read(path: path), snapshot, "size \(size)")
        }
    }
}

final class ManifestTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = makeTempDir() }
    override func tearDown() { removeDir(dir) }

    func testCreateReloadConflict() throws {
        let req = Manifest.Request(dimension: 384, metric: "cosine", indexType: "hnsw", parameters: ["m": "16", "ef_construction": "200"])
        let created = try Manifest.loadOrCreate(dir: dir, requested: req)
        let id = try XCTUnwrap(created.storeID)
        XCTAssertEqual(created, Manifest(storeID: id, dimension: 384, metric: "cosine", indexType: "hnsw", parameters: ["m": "16", "ef_construction": "200"]))
        let text = String(decoding: readFile(dir + "/MANIFEST"), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("lynx-manifest\nformat_version=1\nstore_id=\(id.rawValue)\ndimension=384\n"), text)
        // reload with nothing requested, or the same values
        XCTAssertEqual(try Manifest.loadOrCreate(dir: dir, requested: .init()), created)
        XCTAssertEqual(try Manifest.loadOrCreate(dir: dir, requested: req), created)
        XCTAssertEqual(try Manifest.load(dir: dir), created)
        // conflicts
        assertStorageError({ _ = try Manifest.loadOrCreate(dir: dir, requested: .init(dimension: 128)) }) {
            $0 == .manifestConflict(field: "dimension", existing: "384", requested: "128")
        }
        assertStorageError({ _ = try Manifest.loadOrCreate(dir: dir, requested: .init(metric: "l2")) }) {
            $0 == .manifestConflict(field: "metric", existing: "cosine", requested: "l2")
        }
        assertStorageError({ _ = try Manifest.loadOrCreate(dir: dir, requested: .init(parameters: ["m": "32"])) }) {
            $0 == .manifestConflict(field: "param.m", existing: "16", requested: "32")
        }
        XCTAssertTrue("\(StorageError.manifestConflict(field: "dimension", existing: "384", requested: "128"))".contains("384"))
    }

    func testDefaultsAndCorruption() throws {
        assertStorageError({ _ = try Manifest.loadOrCreate(dir: dir, requested: .init()) }) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        XCTAssertNil(try Manifest.load(dir: dir))
        let m = try Manifest.loadOrCreate(dir: dir, requested: .init(metric: "dot"),
                                          defaults: .init(dimension: 384, metric: "l2", indexType: "flat"))
        XCTAssertEqual(m, Manifest(storeID: m.storeID, dimension: 384, metric: "dot", indexType: "flat"))
        XCTAssertNotNil(m.storeID)
        var b = readFile(dir + "/MANIFEST")
        b[20] ^= 1
        writeFile(dir + "/MANIFEST", b)
        assertStorageError({ _ = try Manifest.load(dir: dir) }) { if case .corrupt = $0 { return true } else { return false } }
    }
}

extension ManifestTests {
    /// Every creation draws a new store id unless one is given; it never changes at a reload.
    func testStoreIDs() throws {
        let req = Manifest.Request(dimension: 8, metric: "l2", indexType: "flat")
        var ids: Set<StoreID> = []
        for i in 0..<20 {
            let sub = dir + "/s\(i)"
            try SystemFileIO().createDirectory(sub)
            let created = try Manifest.loadOrCreate(dir: sub, requested: req)
            ids.insert(try XCTUnwrap(created.storeID))
            XCTAssertEqual(try Manifest.loadOrCreate(dir: sub, requested: .init()).storeID, created.storeID)
        }
        XCTAssertEqual(ids.count, 20)
        let given = StoreID(rawValue: 12_345)!
        var withID = req
        withID.storeID = given
        XCTAssertEqual(try Manifest.loadOrCreate(dir: dir, requested: withID).storeID, given)
        // A given id is for creation only: a stored store keeps its own.
        withID.storeID = StoreID(rawValue: 99)!
        XCTAssertEqual(try Manifest.loadOrCreate(dir: dir, requested: withID).storeID, given)
    }

    /// A manifest written before stores had ids (no `store_id` line) gets one at its next open, kept from then on;
    /// `load` alone (the operator tools) changes nothing.
    func testManifestWithoutStoreIDGetsOne() throws {
        let legacy = Manifest(storeID: nil, dimension: 4, metric: "l2", indexType: "flat")
        XCTAssertFalse(legacy.encoded().contains("store_id"))
        writeFile(dir + "/MANIFEST", Array(legacy.encoded().utf8))
        XCTAssertNil(try Manifest.load(dir: dir)?.storeID)
        let opened = try Manifest.loadOrCreate(dir: dir, requested: .init(dimension: 4))
        let id = try XCTUnwrap(opened.storeID)
        XCTAssertEqual(try Manifest.load(dir: dir)?.storeID, id)
        XCTAssertEqual(try Manifest.loadOrCreate(dir: dir, requested: .init()).storeID, id)
    }

    /// An empty requested value asks for the key to be absent: it is not written, and conflicts with a stored one.
    func testAnEmptyRequestedParameterMeansAbsent() throws {
        let made = try Manifest.loadOrCreate(dir: dir, requested: .init(dimension: 4, metric: "l2", indexType: "hnsw",
                                                                        parameters: ["m": "8", "quantization": ""]))
        XCTAssertEqual(made.parameters, ["m": "8"])
        XCTAssertEqual(try Manifest.loadOrCreate(dir: dir, requested: .init(parameters: ["quantization": ""])).parameters, ["m": "8"])
        assertStorageError({ _ = try Manifest.loadOrCreate(dir: dir, requested: .init(parameters: ["quantization": "sq8"])) }) {
            if case .manifestConflict("param.quantization", "(unset)", "sq8") = $0 { return true } else { return false }
        }
        let other = makeTempDir()
        defer { removeDir(other) }
        _ = try Manifest.loadOrCreate(dir: other, requested: .init(dimension: 4, metric: "l2", indexType: "hnsw",
                                                                   parameters: ["quantization": "sq8"]))
        assertStorageError({ _ = try Manifest.loadOrCreate(dir: other, requested: .init(parameters: ["quantization": ""])) }) {
            if case .manifestConflict("param.quantization", "sq8", "(unset)") = $0 { return true } else { return false }
        }
    }

    func testStoreIDZeroIsCorrupt() throws {
        var text = Manifest(storeID: nil, dimension: 4, metric: "l2", indexType: "flat").encoded()
        text = String(text[..<text.range(of: "checksum=")!.lowerBound]) + "store_id=0\n"
        let crc = String(CRC32C.checksum(Array(text.utf8)), radix: 16)
        writeFile(dir + "/MANIFEST", Array((text + "checksum=" + String(repeating: "0", count: 8 - crc.count) + crc + "\n").utf8))
        assertStorageError({ _ = try Manifest.load(dir: dir) }) { if case .corrupt = $0 { return true } else { return false } }
        XCTAssertNil(StoreID(rawValue: 0))
    }
}

final class DirectoryLockTests: XCTestCase {
    func testSecondAcquireFailsWithPID() throws {
        let dir = makeTempDir()
        defer { removeDir(dir) }
        let lock = try DirectoryLock.acquire(dir: dir)
        assertStorageError({ _ = try DirectoryLock.acquire(dir: dir) }) { $0 == .locked(byPID: getpid(), path: dir + "/LOCK") }
        let message = "\(StorageError.locked(byPID: getpid(), path: dir + "/LOCK"))"
        XCTAssertTrue(message.contains("\(getpid())") && message.contains("LOCK"), message)
        lock.release()
        let again = try DirectoryLock.acquire(dir: dir)
        again.release()
    }
}

/// Snapshots whose sections are produced on demand (what checkpoints write).
final class StreamedSnapshotTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = makeTempDir() }
    override func tearDown() { removeDir(dir) }

    func testStreamedSectionsReadBackLikeInMemoryOnes() throws {
        let big = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let sections = [
            StreamedSection(tag: 1) { emit in try Array("meta".utf8).withUnsafeBytes { try emit($0) } },
            StreamedSection(tag: 2) { emit in
                // uneven pieces, including empty ones
                var at = 0
                for size in [0, 1, 4095, 1 << 20, 3, 0] { try big[at..<(at + size)].withUnsafeBytes { try emit($0) }; at += size }
                try big[at...].withUnsafeBytes { try emit($0) }
            },
        ]
        let path = try SnapshotFile.write(checkpointSeq: 3, lastLSN: 30, sections: sections, dir: dir)
        let read = try SnapshotFile.read(path: path)
        XCTAssertEqual(read, Snapshot(checkpointSeq: 3, lastLSN: 30, sections: [
            SnapshotSection(tag: 1, bytes: Array("meta".utf8)), SnapshotSection(tag: 2, bytes: big)]))
    }

    /// Section headers are written after their sections (one pass): a header whose 4 MiB staging chunk is held
    /// back while later chunks go out, one straddling two chunks, and sections spanning several chunks.
    func testSectionHeadersPatchedAcrossChunkBoundaries() throws {
        let chunk = 4 << 20
        func bytes(_ count: Int, _ seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed } }
        // File header 36 bytes, then section headers of 16: section 2's header starts 8 bytes before the boundary.
        let first = bytes(chunk - SnapshotFile.headerSize - SnapshotFile.sectionHeaderSize - 8, 1)
        let second = bytes(9 << 20, 2)
        let third = bytes(100, 3)
        let sections = [first, second, third].enumerated().map { k, b in
            StreamedSection(tag: UInt32(k + 1)) { emit in
                var at = 0
                while at < b.count {  // pieces of 1 MiB + 1, so they straddle the chunk edges too
                    let n = min(b.count - at, (1 << 20) + 1)
                    try b[at..<(at + n)].withUnsafeBytes { try emit($0) }
                    at += n
                }
            }
        }
        let path = try SnapshotFile.write(checkpointSeq: 5, lastLSN: 50, sections: sections, dir: dir)
        XCTAssertEqual(try SnapshotFile.read(path: path), Snapshot(checkpointSeq: 5, lastLSN: 50, sections: [
            SnapshotSection(tag: 1, bytes: first), SnapshotSection(tag: 2, bytes: second), SnapshotSection(tag: 3, bytes: third)]))
        let raw = try XCTUnwrap(FileManager.default.contents(atPath: path))
        let straddling = chunk - 8
        XCTAssertEqual(Array(raw[straddling..<(straddling + 4)]), [2, 0, 0, 0], "section 2's tag, just before the boundary")
        XCTAssertEqual(raw.count, SnapshotFile.headerSize + 3 * SnapshotFile.sectionHeaderSize + first.count + second.count
                       + third.count + SnapshotFile.trailerSize)
    }
}

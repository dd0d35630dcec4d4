import Foundation
import LynxStorage
import XCTest

/// A fresh temporary directory per test, removed afterwards.
func makeTempDir(_ name: String = "lynx-storage") -> String {
    var template = Array("\(NSTemporaryDirectory())/\(name)-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(p != nil, "mkdtemp failed")
    return String(cString: p!)
}

func removeDir(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

func readFile(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }
func fileSize(_ path: String) -> UInt64 { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0 }

/// Replaces a file's content (plain open/write/close: no fsync, no temp file; tests rewrite files thousands of times).
func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "open \(path)")
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    precondition(n == bytes.count)
    close(fd)
}

/// Deterministic small-vector operations.
func upsert(_ id: UInt64, dim: Int = 4, meta: Int = 3) -> WALOperation {
    .upsert(id: id, vector: (0..<dim).map { Float(id) + Float($0) * 0.25 },
            metadata: (0..<meta).map { UInt8(truncatingIfNeeded: Int(id) &+ $0) })
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes `txs` to a fresh log and returns the file bytes plus each transaction's end offset and commit LSN.
func writeLog(_ path: String, _ txs: [[WALOperation]]) throws -> (bytes: [UInt8], ends: [UInt64], lsns: [UInt64]) {
    let w = try WALWriter(creating: path)
    var ends: [UInt64] = []
    var lsns: [UInt64] = []
    for t in txs {
        lsns.append(try w.append(t))
        ends.append(w.endOffset)
    }
    try w.sync()
    try w.close()
    // The log's bytes: the file continues with the writer's preallocated zeros, which are not part of it.
    return (Array(readFile(path)[0..<Int(ends.last ?? UInt64(WALFormat.headerSize))]), ends, lsns)
}

func recoverAll(_ path: String, io: FileIO = SystemFileIO()) throws -> (WALRecoveryResult, [(lsn: UInt64, ops: [WALOperation])]) {
    let r = try WALReader(path: path, io: io, bufferSize: 8192).readAll()
    return (r.result, r.transactions)
}

func assertStorageError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line,
                        _ check: (StorageError) -> Bool) {
    do {
        try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let e as StorageError {
        XCTAssertTrue(check(e), "unexpected error \(e)", file: file, line: line)
    } catch {
        XCTFail("unexpected non-storage error \(error)", file: file, line: line)
    }
}

// libFuzzer target: the WAL reader (LynxStorage WALReader/WALFormat). Built and run by scripts/fuzz.sh.
//
// The input is a log file. Its first byte chooses how it is used: bit 0 set, the header checksum and every frame's
// header check and cumulative checksum are recomputed first (and with bit 1 the frames get the header's salts), so
// mutations reach the payload decoders behind the checksums instead of stopping at the first CRC. The rest of the
// input is the file, written to a private file under /dev/shm and replayed with `WALReader.readAll`.
// Checked beyond "no crash, no sanitizer report": the result accounts for every frame delivered and never points
// past the file.
import Foundation
import LynxStorage

private let path = "/dev/shm/lynx-fuzz-wal-\(getpid()).log"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAL(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    var file = [UInt8](UnsafeBufferPointer(start: data + 1, count: size - 1))
    if mode & 1 != 0 { seal(&file, forceSalts: mode & 2 != 0) }
    guard FileManager.default.createFile(atPath: path, contents: Data(file)) else { fatalError("cannot write \(path)") }
    guard let (result, transactions) = try? WALReader(path: path, bufferSize: 4096).readAll() else { return 0 }
    let frames = transactions.reduce(0) { $0 + $1.ops.count }
    guard frames == result.committedFrames, transactions.count == result.committedTransactions,
          result.validEndOffset <= result.fileSize, result.stopOffset <= result.fileSize else {
        fatalError("inconsistent replay result \(result) for \(transactions.count) transactions of \(frames) frames")
    }
    if let last = transactions.last, last.lsn != result.lastLSN { fatalError("last LSN \(result.lastLSN), last transaction \(last.lsn)") }
    return 0
}

/// Recomputes the checksums the reader verifies, frame by frame, as far as the length fields allow.
private func seal(_ b: inout [UInt8], forceSalts: Bool) {
    guard b.count >= WALFormat.headerSize else { return }
    b.replaceSubrange(0..<4, with: WALFormat.magic)
    store32(&b, 36, CRC32C.checksum(Array(b[0..<36])))
    var crc = load32(b, 36)
    var offset = WALFormat.headerSize
    while offset + WALFormat.frameHeaderSize <= b.count {
        let length = Int(load32(b, offset))
        guard length <= b.count - offset - WALFormat.frameHeaderSize else { break }
        if forceSalts {
            for k in 0..<8 { b[offset + 16 + k] = b[16 + k] }
        }
        store32(&b, offset + 24, CRC32C.checksum(Array(b[offset..<offset + 24])))
        crc = CRC32C.extend(crc, Array(b[offset..<offset + 28]))
        crc = CRC32C.extend(crc, Array(b[offset + 32..<offset + 32 + length]))
        store32(&b, offset + 28, crc)
        offset += WALFormat.frameHeaderSize + length
    }
}

private func load32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

private func store32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
    for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
}

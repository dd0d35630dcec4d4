// libFuzzer target: the replication batch decoder (LynxReplication ReplicationBatch), which parses what a follower
// receives from the network. Built and run by scripts/fuzz.sh.
//
// The input's first byte chooses how the rest is used: bit 0 set, the header checksum and every frame's header check
// and cumulative checksum are recomputed first, so that mutations reach the frame and payload decoders behind the
// checksums instead of stopping at the first CRC. Checked beyond "no crash, no sanitizer report": a batch that
// decodes encodes to bytes that decode to the same history, figures and LSNs, and encode to the same bytes again.
import LynxEngine
import LynxReplication
import LynxStorage
import LynxSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReplicationBatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    var bytes = [UInt8](UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 != 0 { seal(&bytes) }
    guard let batch = try? ReplicationBatch.decode(bytes) else { return 0 }
    // Compared as bytes: a vector may hold NaNs (the checksums are sealed here, not a leader's), and NaN != NaN.
    let first = try! batch.encoded()
    guard let again = try? ReplicationBatch.decode(first) else { fatalError("a decoded batch did not encode to a valid one") }
    guard try! again.encoded() == first, again.leaderTerm == batch.leaderTerm, again.leaderLastLSN == batch.leaderLastLSN,
          again.history == batch.history, again.transactions.map(\.firstLSN) == batch.transactions.map(\.firstLSN) else {
        fatalError("the batch changed in a round trip")
    }
    return 0
}

/// Recomputes the checksums the decoder verifies, as far as the length fields allow.
private func seal(_ b: inout [UInt8]) {
    let header = ReplicationBatch.headerSize
    guard b.count >= header else { return }
    b.replaceSubrange(0..<4, with: ReplicationBatch.magic)
    store32(&b, 44, CRC32C.checksum(Array(b[0..<44])))
    let h = Int(b[6]) | Int(b[7]) << 8
    var offset = header + h * ReplicationBatch.historyEntrySize
    guard offset <= b.count else { return }
    var crc = CRC32C.checksum(Array(b[0..<offset]))
    while offset + WALFormat.frameHeaderSize <= b.count {
        let length = Int(b.le32(at: offset))
        guard length <= b.count - offset - WALFormat.frameHeaderSize else { break }
        store32(&b, offset + 24, CRC32C.checksum(Array(b[offset..<offset + 24])))
        crc = CRC32C.extend(crc, Array(b[offset..<offset + 28]) + Array(b[offset + 32..<offset + 32 + length]))
        store32(&b, offset + 28, crc)
        offset += WALFormat.frameHeaderSize + length
    }
}

private func store32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
    for i in 0..<4 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
}

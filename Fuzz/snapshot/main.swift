// libFuzzer target: the snapshot decoder (LynxStorage SnapshotFile.read, then LynxEngine's SnapshotCodec.decode with
// the index, metadata, metadata-index and pending sections). Built and run by scripts/fuzz.sh.
//
// The input is a snapshot file. Its first byte chooses how it is used: bit 0 set, the header, section and
// whole-file checksums are recomputed first, so mutations reach the section decoders behind them; bit 1 decodes
// with writes staged in a pending tail (as with index threads) rather than applied to the index. The store's
// dimension, metric and index kind come from the snapshot's own `meta` section. Row chunks kept in row chunk
// files (`rows/`) are served by a source that fills them with values derived from their token, so the index
// decoders run on real snapshots without their directory.
import Foundation
import LynxIndex
@testable import LynxEngine
import LynxStorage

private let path = "/dev/shm/lynx-fuzz-snapshot-\(getpid()).lsnap"

private struct SyntheticRows: RowChunkSource {
    func load(_ reference: RowChunkReference, width: Int, into: UnsafeMutableBufferPointer<Float>) throws {
        for i in into.indices { into[i] = Float(Int(truncatingIfNeeded: reference.token &+ UInt64(i)) % 97) / 7 }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    var file = [UInt8](UnsafeBufferPointer(start: data + 1, count: size - 1))
    if mode & 1 != 0 { seal(&file) }
    guard FileManager.default.createFile(atPath: path, contents: Data(file)) else { fatalError("cannot write \(path)") }
    guard let snapshot = try? SnapshotFile.read(path: path),
          let meta = snapshot.section(SnapshotCodec.metaTag),
          let (dimension, metric, kind) = settings(meta.bytes) else { return 0 }
    var config = EngineConfig()
    config.dimension = dimension
    config.metric = metric
    config.index = kind
    let sections = snapshot.sections.map { (tag: $0.tag, bytes: $0.bytes) }
    guard let state = try? SnapshotCodec.decode(sections, dimension: dimension, metric: metric,
                                                spec: IndexSpec(kind: kind, IndexParameters()), config: config,
                                                stagesWrites: mode & 2 != 0, rowSource: SyntheticRows()) else { return 0 }
    // A decoded state must answer a search and its own statistics.
    let query = [Float](repeating: 0.5, count: dimension)
    _ = query.withUnsafeBufferPointer { state.index.search($0, k: 3, params: SearchParams(), filter: nil) }
    _ = state.index.count
    return 0
}

/// `dimension=…\nmetric=…\nindex=…\n`, with a dimension small enough for the fuzzer's memory limit.
private func settings(_ bytes: [UInt8]) -> (Int, Metric, IndexKind)? {
    var values: [Substring: Substring] = [:]
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { values[parts[0]] = parts[1] }
    }
    guard let d = values["dimension"].flatMap({ Int($0) }), (1...4096).contains(d),
          let m = values["metric"].flatMap({ Metric(rawValue: String($0)) }),
          let k = values["index"].flatMap({ IndexKind(rawValue: String($0)) }) else { return nil }
    return (d, m, k)
}

/// Recomputes the header checksum, each section's checksum (as far as the length fields allow) and the trailer.
private func seal(_ b: inout [UInt8]) {
    guard b.count >= SnapshotFile.headerSize + SnapshotFile.trailerSize else { return }
    b.replaceSubrange(0..<4, with: SnapshotFile.magic)
    store32(&b, 32, CRC32C.checksum(Array(b[0..<32])))
    var offset = SnapshotFile.headerSize
    let count = Int(load32(b, 24))
    for _ in 0..<count {
        guard offset + SnapshotFile.sectionHeaderSize <= b.count - SnapshotFile.trailerSize else { break }
        let length = Int(clamping: UInt64(load32(b, offset + 8)) | UInt64(load32(b, offset + 12)) << 32)
        let start = offset + SnapshotFile.sectionHeaderSize
        guard length <= b.count - SnapshotFile.trailerSize - start else { break }
        store32(&b, offset + 4, CRC32C.checksum(Array(b[start..<start + length])))
        offset = start + length
    }
    let end = b.count - SnapshotFile.trailerSize
    store32(&b, end, CRC32C.checksum(Array(b[0..<end])))
    b.replaceSubrange(end + 4..<end + 8, with: SnapshotFile.endMagic)
}

private func load32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

private func store32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
    for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
}

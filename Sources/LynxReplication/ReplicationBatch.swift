import LynxEngine
import LynxStorage
import LynxSupport

/// One answer of `GET /replication/log`: the leader's term, its term history for the store, and whole committed
/// transactions that continue the follower's log. Byte layout in docs/REPLICATION.md ("The batch"); the frames are
/// WAL frames (docs/STORAGE_FORMATS.md) with both salts 0, chained from a seed that covers the header and the history.
public struct ReplicationBatch: Sendable {
    public var leaderTerm: UInt64
    /// The leader's last LSN when the batch was cut: the follower is `leaderLastLSN - its last LSN` behind.
    public var leaderLastLSN: UInt64
    public var history: TermHistory
    public var transactions: [LoggedTransaction]

    public init(leaderTerm: UInt64, leaderLastLSN: UInt64, history: TermHistory, transactions: [LoggedTransaction]) {
        self.leaderTerm = leaderTerm
        self.leaderLastLSN = leaderLastLSN
        self.history = history
        self.transactions = transactions
    }

    public static let mediaType = "application/vnd.lynx.replication"
    public static let magic: [UInt8] = Array("LYRB".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 48
    public static let historyEntrySize = 16
    /// Most term-history entries a batch may carry (a bound for the decoder).
    public static let maxHistoryEntries = 65_535

    /// The batch's bytes, laid out in one allocation of the final size (frames are encoded in place).
    public func encoded() throws -> [UInt8] {
        let sizes = try transactions.map { try WALCodec.encodedSize($0.ops) }
        let frameBytes = sizes.reduce(0, +)
        guard frameBytes <= Int(UInt32.max) else { throw StorageError.invalidArgument("a replication batch over 4 GiB") }
        var w = BinaryWriter()
        w.reserveCapacity(Self.headerSize + Self.historyEntrySize * history.entries.count)
        w.write(contentsOf: Self.magic)
        w.write(Self.version)
        w.write(UInt16(history.entries.count))
        w.write(history.storeID.rawValue)
        w.write(leaderTerm)
        w.write(leaderLastLSN)
        w.write(transactions.first?.firstLSN ?? 0)
        w.write(UInt32(frameBytes))
        w.write(CRC32C.extend(0, w.bytes))
        for e in history.entries {
            w.write(e.term)
            w.write(e.startLSN)
        }
        let head = w.bytes
        let total = head.count + frameBytes
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            head.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: head.count) }
            var seed = CRC32C.extend(0, head)
            var at = head.count
            for (t, size) in zip(transactions, sizes) {
                seed = WALCodec.encodeTransaction(t.ops, into: base + at, firstLSN: t.firstLSN, salt1: 0, salt2: 0, seed: seed)
                at += size
            }
            count = total
        }
    }

    /// Parses and checks a batch: header checksum, sizes, every frame's checksums and LSNs (consecutive from the
    /// first), and that it ends on a commit frame.
    public static func decode(_ bytes: [UInt8]) throws(ReplicationError) -> ReplicationBatch {
        guard bytes.count >= headerSize else { throw .badBatch("\(bytes.count) bytes, shorter than the header") }
        guard Array(bytes[0..<4]) == magic else { throw .badBatch("bad magic") }
        guard bytes.le32(at: 44) == CRC32C.extend(0, Array(bytes[0..<44])) else {
            throw .badBatch("header checksum mismatch")
        }
        let version = bytes.le16(at: 4)
        guard version == Self.version else { throw .badBatch("unsupported version \(version)") }
        let h = Int(bytes.le16(at: 6))
        let frameBytes = Int(bytes.le32(at: 40))
        let framesStart = headerSize + h * historyEntrySize
        guard bytes.count == framesStart + frameBytes else {
            throw .badBatch("\(bytes.count) bytes, the header says \(framesStart + frameBytes)")
        }
        guard let storeID = StoreID(rawValue: bytes.le64(at: 8)) else { throw .badBatch("store id 0") }
        var history = TermHistory(storeID: storeID)
        for i in 0..<h {
            let o = headerSize + i * historyEntrySize
            history.entries.append(TermStart(term: bytes.le64(at: o), startLSN: bytes.le64(at: o + 8)))
        }
        var batch = ReplicationBatch(leaderTerm: bytes.le64(at: 16), leaderLastLSN: bytes.le64(at: 24),
                                     history: history, transactions: [])
        var seed = CRC32C.extend(0, Array(bytes[0..<framesStart]))
        var lsn = bytes.le64(at: 32)
        var offset = framesStart
        var open: LoggedTransaction?
        while offset < bytes.count {
            switch WALCodec.decodeFrame(bytes, at: offset, salt1: 0, salt2: 0, seed: seed, expectedLSN: lsn) {
            case .failure(let reason):
                throw .badBatch("frame at LSN \(lsn): \(reason.rawValue)")
            case .success(let frame):
                if open == nil { open = LoggedTransaction(firstLSN: lsn, ops: []) }
                open!.ops.append(frame.operation)
                if frame.isCommit {
                    batch.transactions.append(open!)
                    open = nil
                }
                seed = frame.checksum
                offset += frame.size
                lsn += 1
            }
        }
        if open != nil { throw .badBatch("the last transaction has no commit frame") }
        return batch
    }
}

/// Why replication could not go on with a batch or a peer.
public enum ReplicationError: Error, Sendable, CustomStringConvertible {
    case badBatch(String)
    case peer(String)

    public var description: String {
        switch self {
        case .badBatch(let why): return "a replication batch failed its checks: \(why)"
        case .peer(let why): return why
        }
    }
}

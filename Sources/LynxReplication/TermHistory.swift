import LynxStorage

/// One entry of a term history: the leader of `term` wrote its first frame of this store at `startLSN`.
public struct TermStart: Sendable, Equatable {
    public var term: UInt64
    public var startLSN: UInt64
    public init(term: UInt64, startLSN: UInt64) {
        self.term = term
        self.startLSN = startLSN
    }
}

/// Which leader wrote which part of a store's log (Raft's log terms, PostgreSQL's timeline history): entries in
/// increasing term and start LSN. With the id of the store whose log it describes, so that a store of the same name
/// made anew (or a store of another cluster) is never taken for a prefix of it.
public struct TermHistory: Sendable, Equatable {
    public var storeID: StoreID
    public var entries: [TermStart]

    public init(storeID: StoreID, entries: [TermStart] = []) {
        self.storeID = storeID
        self.entries = entries
    }

    /// The term that wrote `lsn` (0 before the first entry: a log written before any leader).
    public func term(at lsn: UInt64) -> UInt64 {
        entries.last(where: { $0.startLSN <= lsn })?.term ?? 0
    }

    public var lastTerm: UInt64 { entries.last?.term ?? 0 }

    /// Where a follower whose log ends at `lsn`, written in `term`, parts from this log (whose last LSN is
    /// `lastLSN`): nil when its log is a prefix of this one (Raft's check: the same term wrote `lsn` here), else the
    /// first LSN it must discard. The follower's frames of `term` match ours up to the end of `term` here (the frame
    /// before the first later term). When this history never had `term`, the follower's frames of it are all
    /// foreign: `termKnown` is false and the follower starts discarding at its own first frame of `term` if earlier.
    public func divergence(followerLSN lsn: UInt64, followerTerm term: UInt64, lastLSN: UInt64) -> (at: UInt64, termKnown: Bool)? {
        if lsn == 0 { return nil }
        var end = lastLSN
        if let next = entries.first(where: { $0.term > term }) { end = min(end, next.startLSN - 1) }
        let known = term == 0 || entries.contains { $0.term == term }
        if lsn > end { return (end + 1, known) }
        if self.term(at: lsn) != term { return (min(lsn, end + 1), known) }
        return nil
    }

    /// The first LSN this history says `term` wrote (nil when it has no such term).
    public func start(of term: UInt64) -> UInt64? {
        entries.first { $0.term == term }?.startLSN
    }

    /// This history cut to a log that ends at `lsn` (the entries that start at or before it).
    public func prefix(through lsn: UInt64) -> TermHistory {
        TermHistory(storeID: storeID, entries: entries.filter { $0.startLSN <= lsn })
    }
}

/// The file `TERMS` in a store's folder: the store's `TermHistory`, replaced atomically (written beside, fsynced,
/// renamed). Text, one line each: `lynx-terms 1 <storeID>`, then `<term> <startLSN>` per entry.
public enum TermHistoryFile {
    public static let name = StoreFileName.termHistory

    public static func load(storeDirectory: String, io: FileIO = SystemFileIO()) throws -> TermHistory? {
        let path = joinPath(storeDirectory, name)
        guard io.fileExists(path) else { return nil }
        let text = String(decoding: try io.readWholeFile(path), as: UTF8.self)
        var lines = text.split(separator: "\n").map { $0.split(separator: " ") }
        guard let head = lines.first, head.count == 3, head[0] == "lynx-terms", head[1] == "1",
              let id = UInt64(head[2]).flatMap(StoreID.init(rawValue:)) else {
            throw StorageError.corrupt("\(name): not a term history")
        }
        lines.removeFirst()
        var history = TermHistory(storeID: id)
        for fields in lines {
            guard fields.count == 2, let term = UInt64(fields[0]), let start = UInt64(fields[1]) else {
                throw StorageError.corrupt("\(name): a line is not `<term> <startLSN>`")
            }
            history.entries.append(TermStart(term: term, startLSN: start))
        }
        return history
    }

    public static func save(_ history: TermHistory, storeDirectory: String, io: FileIO = SystemFileIO()) throws {
        var text = "lynx-terms 1 \(history.storeID)\n"
        for e in history.entries { text += "\(e.term) \(e.startLSN)\n" }
        try io.writeFileAtomically(joinPath(storeDirectory, name), Array(text.utf8))
    }
}

import LynxIndex
import LynxStorage

/// A row chunk source for the check: loads each chunk through the data directory's own reader (`RowChunkFiles`),
/// and instead of stopping at the first missing or invalid file remembers every one (its rows read as zeros), so
/// that a check names all the damaged files of a snapshot, not the first. The caller fails the snapshot when
/// `failures` is not empty, as recovery would.
final class RowChunkAudit: RowChunkSource, @unchecked Sendable {
    private let files: RowChunkFiles
    /// Tokens referred to, and the file name and reason of each that failed.
    private(set) var tokens: Set<UInt64> = []
    private(set) var failures: [(file: String, reason: String)] = []

    init(_ files: RowChunkFiles) { self.files = files }

    /// Forgets what the last snapshot referred to (before the next is decoded).
    func reset() {
        tokens = []
        failures = []
    }

    func load(_ reference: RowChunkReference, width: Int, into: UnsafeMutableBufferPointer<Float>) throws {
        tokens.insert(reference.token)
        do {
            try files.load(reference, width: width, into: into)
        } catch {
            let name = joinPath(RowChunkFile.directoryName, RowChunkFile.fileName(token: reference.token))
            let reason: String
            switch error as? StorageError {
            case .notFound?: reason = "missing"
            case .corrupt(let why)?:  // "row chunk file <path>: <what>": the path is named above
                reason = why.firstRange(of: ": ").map { String(why[$0.upperBound...]) } ?? why
            default: reason = "\(error)"
            }
            failures.append((name, reason))
            into.initialize(repeating: 0)
        }
    }
}

import Logging
import LynxIndex
import LynxStorage

/// The data directory's row chunk files (`rows/`, docs/STORAGE_FORMATS.md): the sink a snapshot's vectors are serialised
/// through and the source a recovery loads them from. A checkpoint writes only the chunks written to since the
/// last one; the others keep the file they were stored in.
///
/// Per snapshot: `beginPass`, the serialisation (`store` per chunk), `finishPass` before the snapshot's rename
/// (the new files made durable), and once the snapshot is safe, `removeUnreferenced` (files no snapshot names).
/// A chunk's stored reference is reused only when its file is known durable (`durable`): a pass that failed
/// before `finishPass` leaves files that may not be, and the next pass writes those chunks again.
///
/// A store whose full vectors are on disk (`IndexSpec.onDisk`) reads them in place: recovery maps the chunk files
/// instead of reading them, and after each checkpoint the chunks it stored are mapped too (`RowChunkMapper`).
///
/// Not thread-safe: used by recovery, then by checkpoints, one at a time (the engine's checkpoint lock).
final class RowChunkFiles: RowChunkSink, RowChunkMapper, @unchecked Sendable {
    let directory: String
    let io: FileIO
    let mapsVectors: Bool
    /// Tokens whose files are synced and whose names are in a synced directory.
    private var durable: Set<UInt64> = []
    private var pass = Pass()
    private var random = SystemRandomNumberGenerator()
    /// `directory` is known to exist (checked, or created and its parent synced, once).
    private var directoryReady = false

    struct Pass {
        var referenced: Set<UInt64> = []
        var written: [(token: UInt64, path: String)] = []
        var reused = 0
        var failure: Error?
    }

    init(dataDirectory: String, io: FileIO, mapsVectors: Bool = false) {
        directory = joinPath(dataDirectory, RowChunkFile.directoryName)
        self.io = io
        self.mapsVectors = mapsVectors
    }

    /// The files the last pass's snapshot refers to, relative to the data directory (`rows/<token>.lrows`).
    var lastPassFiles: [String] {
        pass.referenced.sorted().map { joinPath(RowChunkFile.directoryName, RowChunkFile.fileName(token: $0)) }
    }

    /// Chunks written and reused by the last pass.
    var lastPassCounts: (written: Int, reused: Int) { (pass.written.count, pass.reused) }

    func beginPass() {
        pass = Pass()
    }

    /// Makes the pass's new files durable, or throws the error that stopped one of them being written.
    func finishPass() throws {
        if let failure = pass.failure { throw failure }
        if !pass.written.isEmpty {
            try RowChunkFile.sync(pass.written.map(\.path), directory: directory, io: io)
            durable.formUnion(pass.written.map(\.token))
        }
    }

    // MARK: RowChunkSink

    func store(rows: Int, width: Int, base: UnsafePointer<Float>, existing: RowChunkReference?) -> RowChunkReference {
        if let existing, existing.rows >= rows, durable.contains(existing.token) {
            pass.referenced.insert(existing.token)
            pass.reused += 1
            return existing
        }
        guard pass.failure == nil else { return RowChunkReference(token: 0, rows: rows, checksum: 0) }
        do {
            if !directoryReady {
                if !io.fileExists(directory) {
                    try io.createDirectory(directory)
                    try io.fsyncDirectory(parentDirectory(of: directory))
                }
                directoryReady = true
            }
            var token: UInt64
            repeat { token = random.next() } while token == 0 || durable.contains(token) || pass.referenced.contains(token)
            let path = joinPath(directory, RowChunkFile.fileName(token: token))
            let checksum = try RowChunkFile.write(path: path, token: token, width: width, rows: rows, payload: UnsafeRawPointer(base), io: io)
            pass.written.append((token, path))
            pass.referenced.insert(token)
            return RowChunkReference(token: token, rows: rows, checksum: checksum)
        } catch {
            pass.failure = error
            return RowChunkReference(token: 0, rows: rows, checksum: 0)
        }
    }

    // MARK: RowChunkSource

    func load(_ reference: RowChunkReference, width: Int, into: UnsafeMutableBufferPointer<Float>) throws {
        let path = joinPath(directory, RowChunkFile.fileName(token: reference.token))
        try RowChunkFile.read(path: path, token: reference.token, width: width, rows: reference.rows,
                              checksum: reference.checksum, into: UnsafeMutableRawBufferPointer(into), io: io)
        durable.insert(reference.token)  // a loaded snapshot's files are as durable as the snapshot
    }

    // MARK: RowChunkMapper

    func map(_ reference: RowChunkReference, width: Int, verify: Bool) throws -> MappedRows {
        let path = joinPath(directory, RowChunkFile.fileName(token: reference.token))
        let (base, length) = try RowChunkFile.map(path: path, token: reference.token, width: width, rows: reference.rows,
                                                  checksum: verify ? reference.checksum : nil, io: io)
        durable.insert(reference.token)
        let io = self.io, address = UInt(bitPattern: base)  // an address, not a pointer: Sendable
        return MappedRows(base: base + RowChunkFile.headerSize, rows: reference.rows) {
            io.unmap(UnsafeMutableRawPointer(bitPattern: address)!, length: length)
        }
    }

    // MARK: Clean-up

    /// Deletes chunk files the last pass did not reference (the snapshot it wrote is now the only one). Call
    /// only once that snapshot is safe. Files of other names are left alone.
    func removeUnreferenced(logger: Logger) {
        guard io.fileExists(directory) else { return }
        do {
            var removed = 0
            for name in try io.listDirectory(directory) {
                guard let token = RowChunkFile.token(fromFileName: name), !pass.referenced.contains(token) else { continue }
                try io.unlink(joinPath(directory, name))
                durable.remove(token)
                removed += 1
            }
            if removed > 0 { try io.fsyncDirectory(directory) }
        } catch {
            logger.warning("could not remove unreferenced row chunk files: \(error)")
        }
    }
}

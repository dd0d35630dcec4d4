import Logging
import LynxStorage

/// The collections' folders in the data directory, and the renames that make creating and deleting one atomic:
///
///     <data-dir>/                     the `default` collection's files (where the single-store release kept them)
///     <data-dir>/collections/<name>/  each other collection: a store directory of its own (MANIFEST, log, snapshots)
///     <data-dir>/collections/.creating-<name>     a creation that has not finished (removed at the next start)
///     <data-dir>/collections/.deleting-<name>-<n> a deletion that has not finished (removed at the next start)
///
/// A collection exists exactly when `collections/<name>` does. Creation fills `.creating-<name>` (its manifest,
/// made durable) and renames it into place; deletion renames the folder out of the way first, then removes it.
/// Each rename is made durable (fsync of `collections/`) before the operation is acknowledged, so a crash at any
/// moment leaves the whole collection or none of it.
struct CollectionFiles {
    let root: String
    let io: FileIO

    var folder: String { joinPath(root, "collections") }

    func path(of name: CollectionName) -> String { joinPath(folder, name.value) }

    static let creatingPrefix = ".creating-"
    static let deletingPrefix = ".deleting-"

    /// An entry of the collections folder.
    enum Entry: Equatable {
        case collection(CollectionName)
        /// What an unfinished creation or deletion left (`.creating-…`, `.deleting-…`): removed at the next start.
        case unfinished(String)
        /// Anything else: ignored.
        case foreign(String)
    }

    /// The collections folder's entries, as they are (reads only), in name order.
    func entries() throws -> [Entry] {
        guard io.fileExists(folder) else { return [] }
        return try io.listDirectory(folder).sorted().map { entry in
            if entry.hasPrefix(Self.creatingPrefix) || entry.hasPrefix(Self.deletingPrefix) { return .unfinished(entry) }
            if let name = CollectionName(entry), name != .default, io.isDirectory(joinPath(folder, entry)) { return .collection(name) }
            return .foreign(entry)
        }
    }

    /// The collections present (the default one excluded: it lives in the root). Removes what unfinished
    /// creations and deletions left, and reports what else it found and ignored.
    func openCatalog(logger: Logger) throws -> [CollectionName] {
        var names: [CollectionName] = []
        var removed = false
        for entry in try entries() {
            switch entry {
            case .unfinished(let entry):
                try io.removeTree(joinPath(folder, entry))
                removed = true
                logger.notice("removed an unfinished collection creation or deletion", metadata: ["entry": "\(entry)"])
            case .collection(let name):
                names.append(name)
            case .foreign(let entry):
                logger.warning("ignoring an entry of the collections folder that is not a collection", metadata: ["entry": "\(entry)"])
            }
        }
        if removed { try io.fsyncDirectory(folder) }
        return names
    }

    /// Runs `prepare` on a fresh staging folder, then moves it into place as `name`, durably.
    func create(_ name: CollectionName, prepare: (String) throws -> Void) throws {
        if !io.fileExists(folder) {
            try io.createDirectory(folder)
            try io.fsyncDirectory(root)
        }
        let staging = joinPath(folder, Self.creatingPrefix + name.value)
        if io.fileExists(staging) { try io.removeTree(staging) }
        try io.createDirectory(staging)
        do {
            try prepare(staging)
            try io.fsyncDirectory(staging)
            try io.rename(staging, to: path(of: name))
        } catch {
            try? io.removeTree(staging)
            throw error
        }
        do {
            try io.fsyncDirectory(folder)
        } catch {
            // Whether the rename is durable is unknown: take it back, so that the failed creation leaves nothing.
            try? io.removeTree(path(of: name))
            try? io.fsyncDirectory(folder)
            throw error
        }
    }

    /// Moves `name`'s folder out of the catalog (durably: from here on the collection is gone), then removes it.
    /// A failure to remove the moved folder is only logged: the next start removes it.
    func delete(_ name: CollectionName, logger: Logger) throws {
        var n = 0
        var doomed: String
        repeat {
            n += 1
            doomed = joinPath(folder, "\(Self.deletingPrefix)\(name.value)-\(n)")
        } while io.fileExists(doomed)
        try io.rename(path(of: name), to: doomed)
        try io.fsyncDirectory(folder)
        do {
            try io.removeTree(doomed)
        } catch {
            logger.warning("a deleted collection's files could not all be removed; the next start removes them",
                           metadata: ["collection": "\(name)", "error": "\(error)"])
        }
    }
}

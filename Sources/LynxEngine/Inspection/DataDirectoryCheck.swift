import LynxStorage

/// The operator's offline check of a data directory (`lynxd check`): the default collection in the root and every
/// collection under `collections/`, each by `StoreCheck`. Reads only, takes no lock (it only asks whether one is
/// held, see `DirectoryLock.holder`), so it runs beside a live lynxd, on a copy, or on a stopped one.
public enum DataDirectoryCheck {
    /// The directory is not a Lynx data directory at all (a usage mistake rather than damage).
    public struct NotADataDirectory: Error, CustomStringConvertible {
        public let path: String
        public let why: String
        public var description: String { "\(path) \(why)" }
    }

    public static func run(dataDir: String) throws -> DataDirectoryCheckReport {
        let io = ReadOnlyFileIO()
        try requireDataDirectory(dataDir, io: io)
        var report = DataDirectoryCheckReport(path: dataDir, lockHolder: DirectoryLock.holder(dir: dataDir), stores: [], findings: [])
        if let pid = report.lockHolder {
            report.findings.append(CheckFinding(
                severity: .warning, file: DirectoryLock.fileName,
                message: "a lynxd (pid \(pid == 0 ? "unknown" : String(pid))) holds this data directory: the log may be growing and "
                    + "checkpoints may replace files while check reads, so this is one moment's view (a torn tail may be a write in "
                    + "progress); check a copy, or stop lynxd, for a definite answer"))
        }
        report.stores.append(StoreCheck(root: dataDir, folder: "", collection: CollectionName.default.value).run())
        let files = CollectionFiles(root: dataDir, io: io)
        for entry in try files.entries() {
            let file = "collections/" + entryName(entry)
            switch entry {
            case .collection(let name):
                report.stores.append(StoreCheck(root: dataDir, folder: file, collection: name.value).run())
            case .unfinished:
                report.findings.append(CheckFinding(severity: .note, file: file,
                                                    message: "an unfinished collection creation or deletion (removed at the next start)"))
            case .foreign:
                report.findings.append(CheckFinding(severity: .note, file: file, message: "not a collection (ignored)"))
            }
        }
        return report
    }

    /// The folder of `collection`'s store in `dataDir`, nil when there is no such collection.
    public static func storePath(dataDir: String, collection: String) -> String? {
        if collection == CollectionName.default.value { return dataDir }
        guard let name = CollectionName(collection) else { return nil }
        let path = CollectionFiles(root: dataDir, io: ReadOnlyFileIO()).path(of: name)
        return SystemFileIO().isDirectory(path) ? path : nil
    }

    static func requireDataDirectory(_ path: String, io: FileIO) throws {
        guard io.isDirectory(path) else { throw NotADataDirectory(path: path, why: "is not a directory") }
        let names = try io.listDirectory(path)
        let known = [Manifest.fileName, "collections"] + LogManager.fileNames
        guard names.contains(where: { known.contains($0) || SnapshotFile.sequence(fromFileName: $0) != nil }) else {
            throw NotADataDirectory(path: path, why: "holds no MANIFEST, log, snapshot or collections: not a Lynx data directory")
        }
    }

    private static func entryName(_ entry: CollectionFiles.Entry) -> String {
        switch entry {
        case .collection(let name): return name.value
        case .unfinished(let name), .foreign(let name): return name
        }
    }
}

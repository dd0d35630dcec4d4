import ArgumentParser
import LynxEngine
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `lynxd restore ARCHIVE --data-dir D [--collection NAME] [--force]`: installs a backup archive (from
/// `GET /snapshots/{name}`) as a store of a data directory no lynxd is using. The work is `StoreRestore`'s.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lynxd restore",
        abstract: "Restore a backup archive (GET /snapshots/{name}) into a data directory that no lynxd is using.",
        discussion: """
            The whole archive is verified (every tar header, size and CRC-32C) before anything is written.
            Without --collection the archive becomes the default collection (the data directory's root); with
            --collection NAME it becomes collections/NAME. A store already there is replaced only with --force.
            Start lynxd on the data directory afterwards; its log continues after the backup's LSN.
            Examples:
              lynxd restore backup.tar --data-dir /var/lib/lynx
              lynxd restore docs.tar --data-dir /var/lib/lynx --collection docs
            """)

    @Argument(help: "The backup archive (a .tar from GET /snapshots/{name}).")
    var archive: String
    @Option(name: .customLong("data-dir"), help: "The data directory to restore into (created when missing).")
    var dataDir: String
    @Option(help: "Restore as this collection instead of the default one.")
    var collection: String?
    @Flag(help: "Replace a store that is there already.")
    var force = false

    /// Restores (exit 0), or exits 1 refused or failed; usage mistakes exit 2 in `runOperatorToolIfNamed`.
    func run() throws {
        var target = CollectionName.default
        if let text = collection {
            guard let name = CollectionName(text) else {
                fail("restore: --collection '\(text)': a collection name is 1 to \(CollectionName.maxLength) ASCII letters, digits, '_' and '-'", code: 2)
            }
            target = name
        }
        let report: StoreRestore.Report
        do throws(StoreRestore.Failure) {
            report = try StoreRestore.restore(archive: archive, dataDir: dataDir, collection: target,
                                              replace: force, logger: Logger(label: "lynxd.restore"))
        } catch {
            switch error {
            case .storeExists:
                fail("restore: \(error); pass --force to replace it")
            case .directoryInUse:
                fail("restore: \(error); stop that lynxd first")
            case .writeFailed:
                fail("restore: \(error); run the same command again to complete it (lynxd refuses to start until then)")
            default:
                fail("restore: \(error)")
            }
        }
        let info = report.info
        print("restored \(archive) into \(report.storeDirectory)\(report.replaced ? " (replacing the store that was there)" : "")")
        print("  collection: \(target)")
        print("  lsn: \(info.lsn) (every write up to it)")
        print("  records: \(info.records)")
        print("  dimension: \(info.dimension), metric: \(info.metric), index: \(info.indexType)")
        print("  snapshot: checkpoint_seq \(info.checkpointSeq), created_unix_ms \(info.createdUnixMillis)")
        print("  files: \(info.files.count), \(info.files.reduce(0) { $0 + $1.size }) bytes (archive \(report.archiveBytes) bytes)")
    }
}

import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr: `2026-11-25T15:17:15Z info lynx.engine: message key=value ...`.
struct StderrLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "\(Self.timestamp()) \(event.level) \(label): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        line += "\n"
        _ = line.withCString { fputs($0, stderr) }
    }

    static func timestamp() -> String {
        var now = time(nil)
        var tm = tm()
        gmtime_r(&now, &tm)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &tm)
        return String(cString: buffer)
    }
}

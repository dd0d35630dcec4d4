import Logging

#if canImport(Glibc)
import Glibc
#endif

/// How lynxd writes its log lines (`--log-format`).
enum LogFormat: String, CaseIterable {
    case text
    case json
}

/// One line per event on stderr, as text (`2026-11-25T15:17:15Z info lynx.engine: message key=value ...`) or as
/// one JSON object (`JSONLogLine`). Each line is written with one `fputs`, which stdio's stream lock keeps whole
/// between threads.
struct StderrLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level, format: LogFormat = .text) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }.sorted(by: { $0.key < $1.key })
        var line: String
        switch format {
        case .text:
            line = "\(Self.timestamp(milliseconds: false)) \(event.level) \(label): \(event.message)"
            for (key, value) in merged {
                line += " \(key)=\(value)"
            }
        case .json:
            line = JSONLogLine.render(time: Self.timestamp(milliseconds: true), level: event.level, label: label,
                                      message: "\(event.message)", metadata: merged)
        }
        line += "\n"
        _ = line.withCString { fputs($0, stderr) }
    }

    /// UTC, RFC 3339 (`2026-11-25T15:17:15Z`, or `...15.042Z` with milliseconds).
    static func timestamp(milliseconds: Bool) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var tm = tm()
        gmtime_r(&seconds, &tm)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &tm)
        let fraction = milliseconds ? "." + String(Int(now.tv_nsec) / 1_000_000 + 1000).dropFirst() : ""
        return String(cString: buffer) + fraction + "Z"
    }
}

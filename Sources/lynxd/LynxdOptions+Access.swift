import LynxHTTP

#if canImport(Glibc)
import Glibc
#endif

extension LynxdOptions {
    /// The keys, `--auth-metrics`, `--allow-unauthenticated`, `--min-free-disk-bytes`, and the refusal to listen
    /// beyond loopback without a key. Error messages never contain a key.
    func resolveAccess(into s: inout LynxdSettings, environment env: [String: String]) throws {
        let full = try key(flag: apiKey, file: apiKeyFile, env, "api-key", "LYNX_API_KEY")
        let readOnly = try key(flag: readOnlyAPIKey, file: readOnlyAPIKeyFile, env, "read-only-api-key", "LYNX_READ_ONLY_API_KEY")
        if readOnly != nil && full == nil {
            throw ConfigError(description: "--read-only-api-key needs --api-key (or --api-key-file): without it no key could write")
        }
        if let full, let readOnly, full == readOnly {
            throw ConfigError(description: "--read-only-api-key must differ from --api-key")
        }
        let authMetrics = try boolean(self.authMetrics, env, "auth-metrics", "LYNX_AUTH_METRICS")
        s.fullAPIKey = full
        s.access = AccessPolicy(keys: full.map { AccessKeys(full: $0, readOnly: readOnly) }, protectsProbes: authMetrics)
        if authMetrics && full == nil {
            throw ConfigError(description: "--auth-metrics needs --api-key (or --api-key-file)")
        }
        s.allowUnauthenticated = try boolean(allowUnauthenticated, env, "allow-unauthenticated", "LYNX_ALLOW_UNAUTHENTICATED")
        if let free = minFreeDiskBytes {
            s.minFreeDiskBytes = free
        } else if let text = env["LYNX_MIN_FREE_DISK_BYTES"] {
            guard let free = UInt64(text) else {
                throw ConfigError(description: "LYNX_MIN_FREE_DISK_BYTES='\(text)' is not an unsigned integer (--min-free-disk-bytes)")
            }
            s.minFreeDiskBytes = free
        }
        if full == nil && !s.allowUnauthenticated && LoopbackAddress.isLoopback(s.server.host) == false {
            throw ConfigError(description: "refusing to listen on \(s.server.host) without an API key (anyone who reaches it could read, write and delete): set --api-key-file or LYNX_API_KEY, or pass --allow-unauthenticated to serve it open")
        }
    }

    /// A key from its flag, its `-file` flag, or their variables: the command line decides when it names either,
    /// and naming both forms at one level is a mistake.
    private func key(flag: String?, file: String?, _ env: [String: String], _ option: String, _ variable: String) throws -> String? {
        let fromCommandLine = flag != nil || file != nil
        let (value, path, valueName, fileName) = fromCommandLine
            ? (flag, file, "--\(option)", "--\(option)-file")
            : (env[variable], env[variable + "_FILE"], variable, variable + "_FILE")
        if value != nil && path != nil { throw ConfigError(description: "give \(valueName) or \(fileName), not both") }
        let key: String
        if let value { key = value } else if let path { key = try Self.firstLine(of: path, for: fileName) } else { return nil }
        let source = path == nil ? valueName : fileName
        guard !key.isEmpty else { throw ConfigError(description: "\(source) is empty") }
        guard key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ConfigError(description: "\(source): a key must be printable ASCII without spaces (the key is not shown)")
        }
        return key
    }

    /// The first line of a small file, without surrounding whitespace.
    private static func firstLine(of path: String, for option: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigError(description: "\(option) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &bytes, bytes.count)
        guard n >= 0 else { throw ConfigError(description: "\(option) \(path): \(String(cString: strerror(errno)))") }
        let line = bytes[..<n].split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        return String(decoding: line.drop(while: isSpace).reversed().drop(while: isSpace).reversed(), as: UTF8.self)
    }

    /// A switch from its flag, else from its variable (`true`/`false`/`1`/`0`).
    func boolean(_ flag: Bool, _ env: [String: String], _ option: String, _ variable: String) throws -> Bool {
        if flag { return true }
        switch env[variable]?.lowercased() {
        case nil, "false"?, "0"?: return false
        case "true"?, "1"?: return true
        case let other?: throw ConfigError(description: "\(variable)='\(other)' is not true or false (--\(option))")
        }
    }
}

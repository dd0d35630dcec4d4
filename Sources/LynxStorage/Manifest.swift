import Foundation

/// What a data directory was created for. Stored in `<dir>/MANIFEST` as text:
///
///     lynx-manifest
///     format_version=1
///     store_id=9753113541207730263     (the store's identity, `StoreID`, decimal)
///     dimension=384
///     metric=l2
///     index_type=hnsw
///     param.ef_construction=200        (one line per index parameter, keys sorted)
///     param.m=16
///     checksum=1a2b3c4d                (crc32c of every byte before this line, 8 lower-case hex digits)
///
/// Keys and values are UTF-8 without newlines; keys have no '='. Written atomically (temp, fsync,
/// rename, directory fsync). Values are strings to the storage layer; the engine gives them meaning, and the
/// index parameters' keys and values are `IndexSpec`'s (LynxIndex, `manifestParameters`).
public struct Manifest: Sendable, Equatable {
    public static let fileName = "MANIFEST"
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// nil only in a manifest written before stores had ids; `loadOrCreate` gives such a store one.
    public var storeID: StoreID?
    public var dimension: Int
    public var metric: String
    public var indexType: String
    public var parameters: [String: String]

    public init(formatVersion: Int = Manifest.currentFormatVersion, storeID: StoreID?, dimension: Int, metric: String,
                indexType: String, parameters: [String: String] = [:]) {
        self.formatVersion = formatVersion
        self.storeID = storeID
        self.dimension = dimension
        self.metric = metric
        self.indexType = indexType
        self.parameters = parameters
    }

    /// What the caller asks for; nil = "whatever is stored" (and on first start, the default).
    public struct Request: Sendable, Equatable {
        public var dimension: Int?
        public var metric: String?
        public var indexType: String?
        /// Parameters that must match the stored ones (a stored-but-not-requested key is fine). An empty value
        /// asks for the key to be absent, and is not written.
        public var parameters: [String: String]
        /// The id a store created now gets (nil: a new random one); never compared with a stored one.
        public var storeID: StoreID?
        public init(dimension: Int? = nil, metric: String? = nil, indexType: String? = nil, parameters: [String: String] = [:],
                    storeID: StoreID? = nil) {
            self.storeID = storeID
            self.dimension = dimension
            self.metric = metric
            self.indexType = indexType
            self.parameters = parameters
        }
    }

    /// On first start (no MANIFEST) writes one from `requested`, with `defaults` filling nil fields
    /// (`defaults.parameters` are merged under `requested.parameters`); a field missing from both throws
    /// `.invalidArgument`. On later starts returns the stored manifest, throwing `.manifestConflict` for the
    /// first requested (non-nil) value that differs from it; a stored manifest without a store id is rewritten
    /// with a new one. A damaged file throws `.corrupt`.
    public static func loadOrCreate(dir: String, requested: Request, defaults: Request = Request(),
                                    io: FileIO = SystemFileIO()) throws -> Manifest {
        if let stored = try load(dir: dir, io: io) {
            if let d = requested.dimension, d != stored.dimension {
                throw StorageError.manifestConflict(field: "dimension", existing: String(stored.dimension), requested: String(d))
            }
            if let m = requested.metric, m != stored.metric {
                throw StorageError.manifestConflict(field: "metric", existing: stored.metric, requested: m)
            }
            if let t = requested.indexType, t != stored.indexType {
                throw StorageError.manifestConflict(field: "index_type", existing: stored.indexType, requested: t)
            }
            for key in requested.parameters.keys.sorted() {
                let want = requested.parameters[key]!
                let have = stored.parameters[key] ?? ""
                if have != want {
                    throw StorageError.manifestConflict(field: "param.\(key)", existing: have.isEmpty ? "(unset)" : have,
                                                        requested: want.isEmpty ? "(unset)" : want)
                }
            }
            if stored.storeID != nil { return stored }
            var upgraded = stored
            upgraded.storeID = StoreID.random()
            try io.writeFileAtomically(joinPath(dir, fileName), Array(upgraded.encoded().utf8))
            return upgraded
        }
        guard let dim = requested.dimension ?? defaults.dimension else {
            throw StorageError.invalidArgument("manifest: dimension is required on first start")
        }
        guard let metric = requested.metric ?? defaults.metric else {
            throw StorageError.invalidArgument("manifest: metric is required on first start")
        }
        guard let type = requested.indexType ?? defaults.indexType else {
            throw StorageError.invalidArgument("manifest: index type is required on first start")
        }
        let m = Manifest(storeID: requested.storeID ?? StoreID.random(), dimension: dim, metric: metric, indexType: type,
                         parameters: defaults.parameters.merging(requested.parameters) { _, r in r }.filter { !$0.value.isEmpty })
        try m.validate()
        try io.writeFileAtomically(joinPath(dir, fileName), Array(m.encoded().utf8))
        return m
    }

    /// The stored manifest, or nil when `<dir>/MANIFEST` does not exist.
    public static func load(dir: String, io: FileIO = SystemFileIO()) throws -> Manifest? {
        let path = joinPath(dir, fileName)
        let bytes: [UInt8]
        do {
            bytes = try io.readWholeFile(path)
        } catch StorageError.notFound {
            return nil
        }
        return try decode(bytes, path: path)
    }

    func validate() throws {
        func ok(_ s: String) -> Bool { !s.contains("\n") && !s.contains("\r") }
        for (k, v) in parameters where k.isEmpty || !ok(k) || k.contains("=") || !ok(v) {
            throw StorageError.invalidArgument("manifest parameter \(k.debugDescription) = \(v.debugDescription) cannot be stored")
        }
        if !ok(metric) || !ok(indexType) { throw StorageError.invalidArgument("manifest values must not contain newlines") }
    }

    /// The file text.
    public func encoded() -> String {
        var s = "lynx-manifest\n"
        s += "format_version=\(formatVersion)\n"
        if let storeID { s += "store_id=\(storeID)\n" }
        s += "dimension=\(dimension)\n"
        s += "metric=\(metric)\n"
        s += "index_type=\(indexType)\n"
        for k in parameters.keys.sorted() { s += "param.\(k)=\(parameters[k]!)\n" }
        let crc = CRC32C.checksum(Array(s.utf8))
        let hex = String(crc, radix: 16)
        return s + "checksum=" + String(repeating: "0", count: 8 - hex.count) + hex + "\n"
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> Manifest {
        func corrupt(_ why: String) -> StorageError { .corrupt("manifest \(path): \(why)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw corrupt("not UTF-8") }
        guard let r = text.range(of: "checksum=", options: .backwards), r.lowerBound == text.startIndex || text[text.index(before: r.lowerBound)] == "\n" else {
            throw corrupt("no checksum line")
        }
        let body = String(text[..<r.lowerBound])
        let stored = text[r.upperBound...].trimmingCharacters(in: .newlines)
        let computed = CRC32C.checksum(Array(body.utf8))
        guard stored.count == 8, UInt32(stored, radix: 16) == computed else { throw corrupt("checksum mismatch") }
        var lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard lines.first == "lynx-manifest" else { throw corrupt("bad first line") }
        var fields: [String: String] = [:]
        var params: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let eq = line.firstIndex(of: "=") else { throw corrupt("line without '=': \(line)") }
            let k = String(line[..<eq]), v = String(line[line.index(after: eq)...])
            if k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v } else { fields[k] = v }
        }
        guard let fv = fields["format_version"].flatMap({ Int($0) }) else { throw corrupt("missing format_version") }
        guard fv == currentFormatVersion else { throw corrupt("unsupported format_version \(fv)") }
        guard let dim = fields["dimension"].flatMap({ Int($0) }) else { throw corrupt("missing dimension") }
        guard let metric = fields["metric"] else { throw corrupt("missing metric") }
        guard let type = fields["index_type"] else { throw corrupt("missing index_type") }
        var storeID: StoreID?
        if let text = fields["store_id"] {
            guard let id = UInt64(text).flatMap(StoreID.init(rawValue:)) else { throw corrupt("store_id is not a non-zero 64-bit number") }
            storeID = id
        }
        return Manifest(formatVersion: fv, storeID: storeID, dimension: dim, metric: metric, indexType: type, parameters: params)
    }
}

import LynxEngine
import LynxIndex
import LynxJSON
import LynxStorage

/// The leader's collections as `GET /replication/catalog` lists them, so that a follower can make the ones it
/// lacks with the same settings and drop the ones the leader no longer has. The default collection is not
/// listed: every node makes it from its flags, and its first batch checks it is the same store.
public struct Catalog: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: CollectionName
        public var storeID: StoreID
        public var settings: StoredCollectionSettings
    }
    public var term: UInt64
    public var entries: [Entry]

    public init(term: UInt64, database: Database) {
        self.term = term
        entries = database.collections.map { Entry(name: $0.name, storeID: $0.engine.storeID, settings: $0.engine.storedSettings) }
    }

    init(term: UInt64, entries: [Entry]) {
        self.term = term
        self.entries = entries
    }

    /// `{"term": T, "collections": [{"name", "store_id", "dimension", "metric", "index", and every parameter of the
    /// index by its key (`IndexParameter.key`), as integers}]}`.
    public func json() -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("term"); w.int64(Int64(term))
        w.key("collections"); w.beginArray()
        for e in entries {
            w.beginObject()
            w.key("name"); w.string(e.name.value)
            w.key("store_id"); w.uint64(e.storeID.rawValue)
            w.key("dimension"); w.int64(Int64(e.settings.dimension))
            w.key("metric"); w.string(e.settings.metric.rawValue)
            w.key("index"); w.string(e.settings.index.kind.rawValue)
            for (parameter, value) in e.settings.index.values { w.key(parameter.key); w.int64(Int64(value)) }
            for (key, value) in e.settings.index.quantization.storedParameters { w.key(key); w.string(value) }
            if e.settings.index.onDisk { w.key(IndexSpec.onDiskKey); w.bool(true) }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ReplicationError) -> Catalog {
        guard let root = (try? JSONParser.parse(bytes))?.objectValue, let list = root["collections"]?.arrayValue else {
            throw .peer("the leader's catalog is not the expected JSON")
        }
        var entries: [Entry] = []
        for item in list {
            guard let o = item.objectValue, let name = o["name"]?.stringValue.flatMap(CollectionName.init),
                  let storeID = o["store_id"]?.numberValue?.uint64.flatMap(StoreID.init(rawValue:)),
                  let dimension = o["dimension"]?.numberValue?.int64, let metric = o["metric"]?.stringValue.flatMap(Metric.init(rawValue:)),
                  let index = o["index"]?.stringValue.flatMap(IndexKind.init(rawValue:)) else {
                throw .peer("an entry of the leader's catalog is not the expected JSON")
            }
            // A parameter the entry lacks takes its default, as in a collection created without it.
            var parameters = IndexParameters()
            for p in IndexParameter.of(index) { parameters[p] = o[p.key]?.numberValue?.int64.flatMap { Int(exactly: $0) } }
            if let type = o[Quantization.key] {
                guard let quantization = type.stringValue.flatMap(Quantization.init(text:)) else {
                    throw .peer("an entry of the leader's catalog has a quantization this build does not know")
                }
                parameters.quantization = quantization
            }
            if let onDisk = o[IndexSpec.onDiskKey] {
                guard let value = onDisk.boolValue else { throw .peer("an entry of the leader's catalog has an on_disk that is not a boolean") }
                parameters.onDisk = value
            }
            entries.append(Entry(name: name, storeID: storeID, settings: StoredCollectionSettings(
                dimension: Int(dimension), metric: metric, index: IndexSpec(kind: index, parameters))))
        }
        return Catalog(term: root["term"]?.numberValue?.uint64 ?? 0, entries: entries)
    }
}

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

    /// The structural parameters a catalog entry carries, as integers, when the store has them.
    static let parameterKeys = ["m", "ef_construction", "n_clusters", "spill"]

    /// `{"term": T, "collections": [{"name", "store_id", "dimension", "metric", "index", "m", "ef_construction", ...}]}`.
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
            w.key("index"); w.string(e.settings.index.rawValue)
            for key in Self.parameterKeys {
                if let v = e.settings.parameters[key].flatMap({ Int64($0) }) { w.key(key); w.int64(v) }
            }
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
            var parameters: [String: String] = [:]
            for key in Self.parameterKeys {
                if let v = o[key]?.numberValue?.int64 { parameters[key] = String(v) }
            }
            entries.append(Entry(name: name, storeID: storeID, settings: StoredCollectionSettings(dimension: Int(dimension), metric: metric, index: index,
                                                                                parameters: parameters)))
        }
        return Catalog(term: root["term"]?.numberValue?.uint64 ?? 0, entries: entries)
    }
}

extension StoredCollectionSettings {
    /// Whether a store with these settings is the catalog entry's (the fields the catalog carries agree).
    func matches(_ entry: StoredCollectionSettings) -> Bool {
        dimension == entry.dimension && metric == entry.metric && index == entry.index
            && Catalog.parameterKeys.allSatisfy { parameters[$0] == entry.parameters[$0] }
    }

    /// The settings that make a collection with these stored ones.
    var creationSettings: CollectionSettings {
        CollectionSettings(dimension: dimension, metric: metric, index: index,
                           hnswM: parameters["m"].flatMap { Int($0) }, hnswEfConstruction: parameters["ef_construction"].flatMap { Int($0) },
                           ivfClusters: parameters["n_clusters"].flatMap { Int($0) }, ivfSpill: parameters["spill"].flatMap { Int($0) })
    }
}

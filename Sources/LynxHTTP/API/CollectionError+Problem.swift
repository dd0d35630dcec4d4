import LynxEngine
import LynxIndex
import LynxJSON

extension CollectionError {
    /// The one place where collection errors become HTTP problems.
    package var problem: Problem {
        switch self {
        case .invalidName(let name):
            return .invalidCollectionName(name)
        case .invalidSetting(let setting, let reason):
            return .invalidRequest("\(setting.name): \(reason)", field: setting.name)
        case .settingOutOfRange(let setting, let reason):
            return .outOfRange("\(setting.name): \(reason)", field: setting.name)
        case .notFound(let name):
            return .collectionNotFound(name)
        case .conflict(let name, let existing):
            var p = Problem(status: 409, slug: "collection-conflict", title: "Collection exists with other settings",
                            detail: "collection \(name) exists with other settings (\(existing.summary)); delete it first or use another name")
            p.extra = [("existing", Responses.settingsValue(existing))]
            return p
        case .protected(let name):
            return Problem(status: 409, slug: "collection-protected", title: "Collection cannot be deleted",
                           detail: "collection \(name) serves the routes without /collections/{name} and cannot be deleted; delete its records instead")
        case .tooMany(let limit):
            var p = Problem(status: 409, slug: "too-many-collections", title: "Too many collections",
                            detail: "\(limit) collections exist besides default, the most this server allows (--max-collections)")
            p.extra = [("limit", .number(JSONNumber(Int64(limit))))]
            return p
        case .storage(let detail):
            return .insufficientStorage(detail + "; nothing was changed")
        case .writeRefused(let refusal):
            return refusal.problem
        }
    }
}

extension Problem {
    static func invalidCollectionName(_ name: String) -> Problem {
        Problem(status: 400, slug: "invalid-collection-name", title: "Invalid collection name",
                detail: "'\(name.prefix(80))' is not a collection name: 1 to 64 of A-Z, a-z, 0-9, '_' and '-'", field: "collection")
    }

    static func collectionNotFound(_ name: CollectionName) -> Problem {
        Problem(status: 404, slug: "collection-not-found", title: "No such collection",
                detail: "no collection named \(name); create it with PUT /collections/\(name)")
    }
}

extension StoredCollectionSettings {
    var summary: String {
        ([("dimension", String(dimension)), ("metric", metric.rawValue), ("index", index.kind.rawValue)]
            + index.values.map { ($0.parameter.key, String($0.value)) }.sorted { $0.0 < $1.0 }
            + index.quantization.storedParameters.map { ($0.key, $0.value) }
            + (index.onDisk ? [(IndexSpec.onDiskKey, "true")] : []))
            .map { "\($0)=\($1)" }.joined(separator: ", ")
    }
}

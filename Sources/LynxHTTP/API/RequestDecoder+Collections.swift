import LynxEngine
import LynxIndex
import LynxJSON

extension RequestDecoder {
    static let collectionKeys = Set(["dimension", "metric", "index", Quantization.key, IndexSpec.onDiskKey]
                                    + IndexParameter.allCases.map(\.key))

    /// The body of `PUT /collections/{name}`: `dimension` (required), `metric`, `index`, the index's structural
    /// parameters, `quantization` and `on_disk`. Ranges are checked by the engine (`CollectionSettings.validate`).
    static func collectionSettings(_ body: JSONValue) throws(Problem) -> CollectionSettings {
        guard case .object(let object) = body else {
            throw Problem.invalidRequest("body: expected an object with dimension, metric, index and index parameters", field: nil)
        }
        try onlyKeys(object, collectionKeys, path: "")
        guard object["dimension"] != nil else {
            throw Problem.invalidRequest("dimension: required (the length of every vector of the collection)", field: "dimension")
        }
        func optionalInt(_ key: String) throws(Problem) -> Int? {
            guard let value = object[key] else { return nil }
            guard case .number(let n) = value, n.isWhole else {
                throw Problem.invalidRequest("\(key): expected an integer, got \(value.typeName)", field: key)
            }
            guard let v = n.wholeInt64, let i = Int(exactly: v) else {
                throw Problem.invalidRequest("\(key): \(n) is out of range", field: key)
            }
            return i
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws(Problem) -> T? where T.RawValue == String {
            guard let value = object[key] else { return nil }
            guard case .string(let s) = value, let v = T(rawValue: s) else {
                let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem.invalidRequest("\(key): expected one of \(allowed)", field: key)
            }
            return v
        }
        var settings = CollectionSettings(
            dimension: try optionalInt("dimension")!,
            metric: try choice("metric", Metric.self) ?? EngineConfig.defaultMetric,
            index: try choice("index", IndexKind.self) ?? IndexSpec.defaultKind)
        for p in IndexParameter.allCases { settings.parameters[p] = try optionalInt(p.key) }
        if let value = object[Quantization.key] {
            settings.parameters.quantization = try quantization(value, path: Quantization.key)
        }
        if let value = object[IndexSpec.onDiskKey] {
            guard case .bool(let onDisk) = value else {
                throw Problem.invalidRequest("\(IndexSpec.onDiskKey): expected true or false, got \(value.typeName)", field: IndexSpec.onDiskKey)
            }
            settings.parameters.onDisk = onDisk
        }
        return settings
    }

    /// `{"type": "sq8"}` or `{"type": "rabitq", "bits": 4}`: the object form of a `Quantization`.
    static func quantization(_ value: JSONValue, path: String) throws(Problem) -> Quantization {
        guard case .object(let object) = value else {
            throw Problem.invalidRequest("\(path): expected an object such as {\"type\": \"sq8\"}, got \(value.typeName)", field: path)
        }
        try onlyKeys(object, ["type", "bits"], path: path)
        let type: String
        switch object["type"] {
        case .string(let t)? where Quantization.types.contains(t): type = t
        default:
            throw Problem.invalidRequest("\(path).type: expected one of \(Quantization.types.joined(separator: ", "))", field: path + ".type")
        }
        let range = RaBitQuantizer.bitRange
        guard type == "rabitq" else {
            guard object["bits"] == nil else {
                throw Problem.invalidRequest("\(path).bits: is for the rabitq type, not \(type)", field: path + ".bits")
            }
            return type == "sq8" ? .sq8 : .none
        }
        guard case .number(let n)? = object["bits"], n.isWhole, let bits = n.wholeInt64.flatMap({ Int(exactly: $0) }),
              range.contains(bits) else {
            throw Problem.invalidRequest("\(path).bits: required for rabitq, an integer in \(range.lowerBound)...\(range.upperBound)",
                                         field: path + ".bits")
        }
        return .rabitq(bits: bits)
    }

    /// The object form of a `Quantization` (`GET /collections/{name}`), as `quantization(_:path:)` reads it.
    static func quantizationValue(_ q: Quantization) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "type", value: .string(q.type))]
        if case .rabitq(let bits) = q { members.append((key: "bits", value: .number(JSONNumber(Int64(bits))))) }
        return .object(JSONObject(members: members))
    }
}

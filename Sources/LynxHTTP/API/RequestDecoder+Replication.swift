import LynxEngine
import LynxReplication
import LynxStorage

extension RequestDecoder {
    /// The query of `GET /replication/log` (docs/REPLICATION.md): `after` required, the rest optional.
    static func logRequest(_ request: HTTPRequest) throws(Problem) -> LogRequest {
        var values: [String: UInt64] = [:]
        var node = ""
        let numbers: Set<String> = ["after", "durable", "last_term", "term", "store_id", "wait_ms", "max_bytes"]
        for (name, value) in request.query {
            guard values[name] == nil && (name != "node" || node.isEmpty) else {
                throw Problem.invalidRequest("\(name): given twice", field: name)
            }
            if name == "node" {
                guard CollectionName.isValid(value) else {
                    throw Problem.invalidRequest("node: '\(value)' is not a node name (\(BackupName.rule))", field: "node")
                }
                node = value
            } else if numbers.contains(name) {
                values[name] = try decimal(value, field: name, what: "an unsigned integer")
            } else {
                throw Problem.invalidRequest(
                    "unknown query parameter '\(name)' (allowed: after, durable, last_term, term, store_id, node, wait_ms, max_bytes)", field: name)
            }
        }
        guard let after = values["after"] else { throw Problem.invalidRequest("after: required", field: "after") }
        let waitMillis = values["wait_ms"] ?? 1000
        guard waitMillis <= UInt64(LogRequest.maxWaitSeconds * 1000) else {
            throw Problem.invalidRequest("wait_ms: at most \(Int(LogRequest.maxWaitSeconds * 1000))", field: "wait_ms")
        }
        let maxBytes = values["max_bytes"] ?? UInt64(LogRequest.defaultMaxBytes)
        guard maxBytes >= 1 && maxBytes <= 1 << 30 else {
            throw Problem.invalidRequest("max_bytes: 1 to 1073741824", field: "max_bytes")
        }
        return LogRequest(node: node, after: after, durable: values["durable"] ?? 0, lastTerm: values["last_term"] ?? 0,
                          term: values["term"] ?? 0, storeID: values["store_id"].flatMap(StoreID.init(rawValue:)),
                          waitSeconds: Double(waitMillis) / 1000, maxBytes: Int(maxBytes))
    }
}

import LynxEngine
import LynxReplication
import LynxStorage
import LynxTransport

extension RequestDecoder {
    /// The query of `GET /replication/log` (docs/REPLICATION.md): `after` required, the rest optional.
    static func logRequest(_ request: HTTPRequest) throws(Problem) -> LogRequest {
        typealias Parameter = LogRequest.Parameter
        var values: [Parameter: UInt64] = [:]
        var node = ""
        for (name, value) in request.query {
            guard let parameter = Parameter(rawValue: name) else {
                let allowed = Parameter.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem.invalidRequest("unknown query parameter '\(name)' (allowed: \(allowed))", field: name)
            }
            guard values[parameter] == nil && (parameter != .node || node.isEmpty) else {
                throw Problem.invalidRequest("\(name): given twice", field: name)
            }
            if parameter.isNumber {
                values[parameter] = try decimal(value, field: name, what: "an unsigned integer")
            } else {
                guard CollectionName.isValid(value) else {
                    throw Problem.invalidRequest("node: '\(value)' is not a node name (\(BackupName.rule))", field: name)
                }
                node = value
            }
        }
        guard let after = values[.after] else { throw Problem.invalidRequest("after: required", field: "after") }
        let waitMillis = values[.waitMillis] ?? 1000
        guard waitMillis <= UInt64(LogRequest.maxWaitSeconds * 1000) else {
            throw Problem.invalidRequest("wait_ms: at most \(Int(LogRequest.maxWaitSeconds * 1000))", field: "wait_ms")
        }
        let maxBytes = values[.maxBytes] ?? UInt64(LogRequest.defaultMaxBytes)
        guard maxBytes >= 1 && maxBytes <= UInt64(LogRequest.maxBytesLimit) else {
            throw Problem.invalidRequest("max_bytes: 1 to \(LogRequest.maxBytesLimit)", field: "max_bytes")
        }
        return LogRequest(node: node, after: after, durable: values[.durable] ?? 0, lastTerm: values[.lastTerm] ?? 0,
                          term: values[.term] ?? 0, storeID: values[.storeID].flatMap(StoreID.init(rawValue:)),
                          waitSeconds: Double(waitMillis) / 1000, maxBytes: Int(maxBytes))
    }
}

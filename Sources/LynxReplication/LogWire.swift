import LynxEngine
import LynxJSON
import LynxSupport
import LynxStorage

/// `GET /replication/log` on the wire, both ways (docs/REPLICATION.md, "The log route"): the follower writes the
/// query (`LogRequest.query`) and reads the answer (`LogAnswer(status:body:)`); the leader reads the query
/// (`LogRequest(query:)`) and writes the answer (`LogAnswer.refusal`). The HTTP layer only carries them.
extension LogRequest {
    /// Why a query is not a log request: the message and the parameter it names.
    public struct QueryError: Error, Sendable, Equatable {
        public var message: String
        public var parameter: String
    }

    /// The request a query asks for: `after` required, the rest optional with their defaults; every parameter at
    /// most once, numbers as plain unsigned decimals.
    public init(query: [(String, String)]) throws(QueryError) {
        var values: [Parameter: UInt64] = [:]
        var node = ""
        for (name, value) in query {
            guard let parameter = Parameter(rawValue: name) else {
                let allowed = Parameter.allCases.map(\.rawValue).joined(separator: ", ")
                throw QueryError(message: "unknown query parameter '\(name)' (allowed: \(allowed))", parameter: name)
            }
            guard values[parameter] == nil && (parameter != .node || node.isEmpty) else {
                throw QueryError(message: "\(name): given twice", parameter: name)
            }
            if parameter.isNumber {
                guard let number = UInt64(canonicalDecimal: value) else {
                    throw QueryError(message: "\(name): '\(value)' is not an unsigned integer: expected decimal digits without a leading zero, 0 to 18446744073709551615", parameter: name)
                }
                values[parameter] = number
            } else {
                guard CollectionName.isValid(value) else {
                    throw QueryError(message: "node: '\(value)' is not a node name (\(BackupName.rule))", parameter: name)
                }
                node = value
            }
        }
        guard let after = values[.after] else { throw QueryError(message: "after: required", parameter: "after") }
        let waitMillis = values[.waitMillis] ?? 1000
        guard waitMillis <= UInt64(Self.maxWaitSeconds * 1000) else {
            throw QueryError(message: "wait_ms: at most \(Int(Self.maxWaitSeconds * 1000))", parameter: "wait_ms")
        }
        let maxBytes = values[.maxBytes] ?? UInt64(Self.defaultMaxBytes)
        guard maxBytes >= 1 && maxBytes <= UInt64(Self.maxBytesLimit) else {
            throw QueryError(message: "max_bytes: 1 to \(Self.maxBytesLimit)", parameter: "max_bytes")
        }
        self.init(node: node, after: after, durable: values[.durable] ?? 0, lastTerm: values[.lastTerm] ?? 0,
                  term: values[.term] ?? 0, storeID: values[.storeID].flatMap(StoreID.init(rawValue:)),
                  waitSeconds: Double(waitMillis) / 1000, maxBytes: Int(maxBytes))
    }
}

/// A refusal of the leader's that the follower acts on, as an RFC 9457 problem: its status, slug, title, detail
/// and the members the follower reads.
public struct LogRefusal: Sendable {
    public var status: Int
    public var slug: String
    public var title: String
    public var detail: String
    public var members: [(String, JSONValue)]
}

extension LogAnswer {
    static let divergedStatus = 409
    static let snapshotNeededStatus = 410
    static let divergedAt = "diverged_at"
    static let termKnown = "term_known"
    static let startLSN = "start_lsn"

    /// The problem the leader answers with when the follower must start over (`diverged`, `snapshotNeeded`); nil
    /// for the other answers, which the HTTP layer writes as it writes any (a batch, not-leader, not found...).
    /// `request`: what the follower asked.
    public func refusal(to request: LogRequest) -> LogRefusal? {
        switch self {
        case .diverged(let at, let known):
            return LogRefusal(status: Self.divergedStatus, slug: "diverged", title: "Diverged",
                              detail: "the follower's log is not on this leader's history from lsn \(at) on",
                              members: [(Self.divergedAt, .number(JSONNumber(at))), (Self.termKnown, .bool(known))])
        case .snapshotNeeded(let start):
            return LogRefusal(status: Self.snapshotNeededStatus, slug: "snapshot-needed", title: "Snapshot needed",
                              detail: "lsn \(request.after + 1) is older than this leader's window (it starts at lsn \(start))",
                              members: [(Self.startLSN, .number(JSONNumber(start)))])
        default:
            return nil
        }
    }

    /// The leader's answer as the follower reads it: a batch (200), a refusal it acts on (409, 410), or nil for
    /// any other status (the follower pauses and asks again). `diverged` without its members reads as diverged
    /// at LSN 1 with the term not known: start over from the beginning, the safe reading.
    public init?(status: Int, body: [UInt8]) {
        switch status {
        case 200:
            self = .batch(body)
        case Self.snapshotNeededStatus:
            let problem = (try? JSONParser.parse(body))?.objectValue
            self = .snapshotNeeded(startLSN: problem?[Self.startLSN]?.numberValue?.uint64 ?? 0)
        case Self.divergedStatus:
            let problem = (try? JSONParser.parse(body))?.objectValue
            self = .diverged(at: problem?[Self.divergedAt]?.numberValue?.uint64 ?? 1,
                             termKnown: problem?[Self.termKnown]?.boolValue ?? false)
        default:
            return nil
        }
    }
}

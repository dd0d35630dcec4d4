import Foundation
import LynxJSON
import LynxSupport

/// etcd v3 through its JSON gateway (`/v3/...`), tried endpoint by endpoint (the first that answers).
/// Thread-safe (serialises its own HTTPClient use with a lock): a call waits for the one in flight, so a slow
/// endpoint delays a keep-alive by up to the timeout per endpoint tried.
///
/// Lease keep-alive is one message POSTed to `/v3/lease/keepalive`: the gateway turns the gRPC stream into a
/// request whose body is the one message, answers one result and ends.
public final class EtcdClient: Sendable {
    private let gateway: PlainMutex<EtcdGateway>

    public init(endpoints: [String], timeoutSeconds: Double = 1) {
        gateway = PlainMutex(EtcdGateway(endpoints: endpoints, timeoutSeconds: timeoutSeconds))
    }

    private func call(_ path: String, _ message: JSONValue) throws(EtcdError) -> EtcdGateway.Answer {
        try gateway.withLock { gateway throws(EtcdError) in try gateway.call(path, message) }
    }

    public func grantLease(ttlSeconds: Int) throws(EtcdError) -> Int64 {
        let answer = try call("/v3/lease/grant", EtcdCoding.object(("TTL", EtcdCoding.int64(Int64(ttlSeconds)))))
            .get("lease grant")
        let id = EtcdCoding.int64(answer["ID"])
        guard id != 0 else { throw EtcdError("etcd lease grant: answer without a lease ID") }
        return id
    }

    /// One keep-alive; returns the TTL etcd now reports (<= 0: the lease is gone).
    public func keepAlive(lease: Int64) throws(EtcdError) -> Int {
        switch try call("/v3/lease/keepalive", EtcdCoding.object(("ID", EtcdCoding.int64(lease)))) {
        case .ok(let answer): return Int(EtcdCoding.int64(answer["result"]?["TTL"]))
        case .refused(code: 5, _): return 0  // NotFound: expired or revoked
        case .refused(let code, let message): throw EtcdError("etcd lease keepalive: \(message) (code \(code))")
        }
    }

    /// Revokes the lease and deletes its keys; a lease that is already gone counts as revoked.
    public func revoke(lease: Int64) throws(EtcdError) {
        switch try call("/v3/lease/revoke", EtcdCoding.object(("ID", EtcdCoding.int64(lease)))) {
        case .ok, .refused(code: 5, _): return
        case .refused(let code, let message): throw EtcdError("etcd lease revoke: \(message) (code \(code))")
        }
    }

    /// Creates `key` with `value` under `lease` iff absent. Returns whether it did, and the key as it now is
    /// (the winner's value and create revision either way; nil only if it vanished in between).
    public func createIfAbsent(_ key: String, value: [UInt8], lease: Int64) throws(EtcdError) -> (created: Bool, current: EtcdKeyValue?) {
        let range = EtcdCoding.object(("request_range", EtcdCoding.object(("key", EtcdCoding.base64(key)))))
        let put = EtcdCoding.object(("request_put", EtcdCoding.object(
            ("key", EtcdCoding.base64(key)), ("value", EtcdCoding.base64(value)), ("lease", EtcdCoding.int64(lease)))))
        // Both branches read the key inside the transaction, so the answer is the key as the comparison saw it.
        let txn = EtcdCoding.object(
            ("compare", .array([Self.createRevisionIs(key, 0)])),
            ("success", .array([put, range])),
            ("failure", .array([range])))
        let answer = try call("/v3/kv/txn", txn).get("create \(key)")
        let created = answer["succeeded"]?.boolValue ?? false
        let reads = (answer["responses"]?.arrayValue ?? []).compactMap { $0["response_range"] }
        return (created, reads.last.flatMap { EtcdCoding.keyValues($0).first })
    }

    public func get(_ key: String) throws(EtcdError) -> EtcdKeyValue? {
        let answer = try call("/v3/kv/range", EtcdCoding.object(("key", EtcdCoding.base64(key)))).get("get \(key)")
        return EtcdCoding.keyValues(answer).first
    }

    /// Every key that starts with `prefix`, in key order.
    public func getPrefix(_ prefix: String) throws(EtcdError) -> [EtcdKeyValue] {
        let message = EtcdCoding.object(("key", EtcdCoding.base64(prefix)),
                                        ("range_end", EtcdCoding.base64(EtcdCoding.prefixEnd(prefix))))
        return EtcdCoding.keyValues(try call("/v3/kv/range", message).get("get prefix \(prefix)"))
    }

    /// Puts `value` at `key` (with `lease`, or none when 0); returns the revision of the put.
    @discardableResult public func put(_ key: String, value: [UInt8], lease: Int64 = 0) throws(EtcdError) -> Int64 {
        let message = EtcdCoding.object(("key", EtcdCoding.base64(key)), ("value", EtcdCoding.base64(value)),
                                        ("lease", EtcdCoding.int64(lease)))
        return EtcdCoding.int64(try call("/v3/kv/put", message).get("put \(key)")["header"]?["revision"])
    }

    /// Deletes `key` only if its create revision is `createRevision` (a leader stepping down deletes its own key only).
    public func deleteIf(_ key: String, createRevision: Int64) throws(EtcdError) -> Bool {
        let txn = EtcdCoding.object(
            ("compare", .array([Self.createRevisionIs(key, createRevision)])),
            ("success", .array([EtcdCoding.object(("request_delete_range", EtcdCoding.object(("key", EtcdCoding.base64(key)))))])))
        let answer = try call("/v3/kv/txn", txn).get("delete \(key)")
        guard answer["succeeded"]?.boolValue ?? false else { return false }
        let deleted = answer["responses"]?.arrayValue?.first?["response_delete_range"]?["deleted"]
        return EtcdCoding.int64(deleted) > 0
    }

    /// A comparison that holds when `key`'s create revision is `revision` (0: the key does not exist).
    private static func createRevisionIs(_ key: String, _ revision: Int64) -> JSONValue {
        EtcdCoding.object(("key", EtcdCoding.base64(key)), ("target", .string("CREATE")), ("result", .string("EQUAL")),
                          ("create_revision", EtcdCoding.int64(revision)))
    }
}

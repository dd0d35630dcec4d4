import Foundation
import LynxJSON

/// The JSON gateway's encoding of etcd's protobuf messages: int64 fields as decimal strings, bytes as base64,
/// and fields holding their zero value (0, "", false) left out of answers.
enum EtcdCoding {
    static func base64(_ bytes: [UInt8]) -> JSONValue { .string(Data(bytes).base64EncodedString()) }

    static func base64(_ text: String) -> JSONValue { base64(Array(text.utf8)) }

    static func int64(_ value: Int64) -> JSONValue { .string(String(value)) }

    /// An int64 field of an answer: a string, a number, or absent (zero).
    static func int64(_ value: JSONValue?) -> Int64 {
        switch value {
        case .string(let s)?: return Int64(s) ?? 0
        case .number(let n)?: return n.wholeInt64 ?? 0
        default: return 0
        }
    }

    static func bytes(_ value: JSONValue?) -> [UInt8] {
        guard let text = value?.stringValue, let data = Data(base64Encoded: text) else { return [] }
        return [UInt8](data)
    }

    static func object(_ members: (String, JSONValue)...) -> JSONValue {
        .object(JSONObject(members: members.map { (key: $0.0, value: $0.1) }))
    }

    static func encode(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    static func keyValue(_ kv: JSONValue) -> EtcdKeyValue {
        EtcdKeyValue(key: String(decoding: bytes(kv["key"]), as: UTF8.self), value: bytes(kv["value"]),
                     createRevision: int64(kv["create_revision"]), modRevision: int64(kv["mod_revision"]),
                     lease: int64(kv["lease"]))
    }

    /// The `kvs` of a range answer (absent when nothing matched).
    static func keyValues(_ range: JSONValue?) -> [EtcdKeyValue] {
        (range?["kvs"]?.arrayValue ?? []).map(keyValue)
    }

    /// The end of the key range that holds every key starting with `prefix`: the prefix with its last byte
    /// below 0xff incremented (etcd's own rule; "\0" means "to the end of the key space").
    static func prefixEnd(_ prefix: String) -> [UInt8] {
        var end = Array(prefix.utf8)
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}

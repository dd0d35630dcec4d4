import Logging
import LynxJSON

/// A log event as one JSON object, for containers' log collectors:
/// `{"time":"2026-11-25T15:17:15.042Z","level":"info","label":"lynx.engine","message":"ready","vectors":"12"}`.
/// The metadata are members beside the four fixed ones (a metadata key that is one of those four is written
/// with a leading `_`). Strings stay strings; integers, doubles and booleans given as `.stringConvertible` are
/// written as JSON numbers and booleans; dictionaries and arrays as objects and arrays.
enum JSONLogLine {
    static let fixedKeys: Set<String> = ["time", "level", "label", "message"]

    static func render(time: String, level: Logger.Level, label: String, message: String,
                       metadata: [(key: String, value: Logger.MetadataValue)]) -> String {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("time"); w.string(time)
        w.key("level"); w.string(level.rawValue)
        w.key("label"); w.string(label)
        w.key("message"); w.string(message)
        for (key, value) in metadata {
            w.key(fixedKeys.contains(key) ? "_" + key : key)
            write(value, to: &w)
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func write(_ value: Logger.MetadataValue, to w: inout JSONWriter) {
        switch value {
        case .string(let s): w.string(s)
        case .stringConvertible(let c):
            switch c {
            case let b as Bool: w.bool(b)
            case let i as Int: w.int(i)
            case let u as UInt64: w.uint64(u)
            case let d as Double where d.isFinite: w.double(d)
            default: w.string(c.description)
            }
        case .dictionary(let d):
            w.beginObject()
            for (key, member) in d.sorted(by: { $0.key < $1.key }) {
                w.key(key)
                write(member, to: &w)
            }
            w.endObject()
        case .array(let a):
            w.beginArray()
            for element in a { write(element, to: &w) }
            w.endArray()
        }
    }
}

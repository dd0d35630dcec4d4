/// Appends compact UTF-8 JSON to `bytes`, for response bodies.
///
/// Two ways to use it: `write(_:)` serialises a whole `JSONValue`; the low-level calls build a document without
/// a DOM. Commas and colons are inserted automatically:
///
///     var w = JSONWriter()
///     w.beginObject()
///     w.key("id"); w.uint64(7)
///     w.key("vector"); w.floatArray(v)
///     w.endObject()          // {"id":7,"vector":[0.5,1.0]}
///
/// The writer does not check that the calls form a valid document (e.g. a `key` inside an array); callers
/// pair `begin*`/`end*` and put exactly one `key` before each object member's value.
///
/// Numbers: integers are written exactly; `double` and `float` write the shortest decimal that parses back to
/// the same value (e.g. `0.1`, `1e-05`, `3.0`). NaN and infinities are not JSON: writing one is a programming
/// error and traps (a `fatalError`, kept even in -Ounchecked builds).
///
/// Concurrency: a value type; use each instance from one thread at a time.
public struct JSONWriter {
    public var bytes: [UInt8]
    /// The next value or key at this level must be preceded by a comma.
    @usableFromInline var needsComma = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    // MARK: structure

    @inline(__always) @usableFromInline
    mutating func beforeValue() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    public mutating func beginObject() {
        beforeValue()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        beforeValue()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object key and the colon; the next call writes its value.
    public mutating func key(_ k: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        appendQuoted(k)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    // MARK: scalars

    public mutating func null() {
        beforeValue()
        appendASCII("null")
    }

    public mutating func bool(_ b: Bool) {
        beforeValue()
        appendASCII(b ? "true" : "false")
    }

    public mutating func string(_ s: String) {
        beforeValue()
        appendQuoted(s)
    }

    public mutating func uint64(_ v: UInt64) {
        beforeValue()
        appendDecimal(v, negative: false)
    }

    public mutating func int64(_ v: Int64) {
        beforeValue()
        appendDecimal(v.magnitude, negative: v < 0)
    }

    public mutating func int(_ v: Int) {
        int64(Int64(v))
    }

    /// The shortest decimal that round-trips to the same `Double`. Traps on NaN/infinity.
    public mutating func double(_ v: Double) {
        beforeValue()
        appendDouble(v)
    }

    /// The shortest decimal that round-trips to the same `Float`. Traps on NaN/infinity.
    public mutating func float(_ v: Float) {
        beforeValue()
        appendFloat(v)
    }

    /// A number as parsed or built: exact integers exactly, anything else via its `double`.
    public mutating func number(_ n: JSONNumber) {
        beforeValue()
        if let u = n.uint64 {
            appendDecimal(u, negative: false)
        } else if let i = n.int64 {
            appendDecimal(i.magnitude, negative: i < 0)
        } else {
            appendDouble(n.double)
        }
    }

    /// `[f0,f1,...]`, each float in its shortest round-tripping form. Traps on NaN/infinity.
    public mutating func floatArray(_ v: UnsafeBufferPointer<Float>) {
        beforeValue()
        bytes.reserveCapacity(bytes.count + 2 + v.count * 12)
        bytes.append(UInt8(ascii: "["))
        var first = true
        for f in v {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            appendFloat(f)
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    public mutating func floatArray(_ v: [Float]) {
        v.withUnsafeBufferPointer { floatArray($0) }
    }

    /// Writes `json`, one value already encoded as compact JSON (stored metadata), as it is.
    public mutating func raw(_ json: [UInt8]) {
        beforeValue()
        bytes.append(contentsOf: json)
    }

    // MARK: DOM

    /// Serialises `value` compactly, members in their stored order.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let n): number(n)
        case .string(let s): string(s)
        case .array(let a):
            beginArray()
            for e in a { write(e) }
            endArray()
        case .object(let o):
            beginObject()
            for m in o.members {
                key(m.key)
                write(m.value)
            }
            endObject()
        }
    }

    // MARK: encoding

    @inline(__always)
    mutating func appendASCII(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func appendDecimal(_ v: UInt64, negative: Bool) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { buf in
            var k = 21
            var x = v
            repeat {
                k -= 1
                buf[k] = UInt8(truncatingIfNeeded: x % 10) &+ UInt8(ascii: "0")
                x /= 10
            } while x != 0
            if negative {
                k -= 1
                buf[k] = UInt8(ascii: "-")
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[k..<21]))
        }
    }

    @inline(__always)
    mutating func appendFloat(_ f: Float) {
        if !f.isFinite { nonFinite(Double(f)) }
        var s = f.description  // shortest round-trip digits; at most 15 bytes, so never heap-allocated
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    mutating func appendDouble(_ d: Double) {
        if !d.isFinite { nonFinite(d) }
        var s = d.description  // shortest round-trip digits
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(never)
    func nonFinite(_ d: Double) -> Never {
        fatalError("JSONWriter: \(d) cannot be written as JSON (only finite numbers can)")
    }

    /// Appends `"s"` with JSON escapes for '"', '\\' and control characters; other UTF-8 is copied as is.
    mutating func appendQuoted(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { u in
            var run = 0
            var j = 0
            let count = u.count
            while j < count {
                let c = u[j]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") {
                    j += 1
                    continue
                }
                if run < j { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<j])) }
                switch c {
                case UInt8(ascii: "\""): appendASCII("\\\"")
                case UInt8(ascii: "\\"): appendASCII("\\\\")
                case 0x0A: appendASCII("\\n")
                case 0x0D: appendASCII("\\r")
                case 0x09: appendASCII("\\t")
                case 0x08: appendASCII("\\b")
                case 0x0C: appendASCII("\\f")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    let h = hex.utf8Start
                    appendASCII("\\u00")
                    bytes.append(h[Int(c >> 4)])
                    bytes.append(h[Int(c & 15)])
                }
                j += 1
                run = j
            }
            if run < count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<count])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

// The recursive-descent scanner behind `JSONParser`. Internal; one instance per parse, on one thread.
//
// Every read of `p[i]` is preceded by an explicit `i < n` check: this module is built with -Ounchecked.

@usableFromInline
struct JSONScanner {
    let p: UnsafePointer<UInt8>
    let n: Int
    let maxDepth: Int
    var i: Int = 0
    /// Reused buffer for strings that contain escapes.
    var scratch: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
        self.p = base
        self.n = count
        self.maxDepth = maxDepth
    }

    // MARK: document

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        if i >= n { throw JSONParseError(offset: i, message: "empty input") }
        let v = try parseValue(depth: 0)
        skipWhitespace()
        if i < n {
            throw JSONParseError(offset: i, message: "unexpected \(describeByte(at: i)) after the JSON value")
        }
        return v
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < n {
            let c = p[i]
            // ' ' 0x20, '\t' 0x09, '\n' 0x0A, '\r' 0x0D
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    /// Parses one value starting at `i` (whitespace already skipped). `depth` = number of enclosing containers.
    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard i < n else { throw JSONParseError(offset: i, message: "unexpected end of input, expected a value") }
        let c = p[i]
        switch c {
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "-"):
            if i + 1 < n, p[i + 1] &- UInt8(ascii: "0") < 10 { return .number(try parseNumber()) }
            let letter = i + 1 < n && (p[i + 1] | 0x20) &- UInt8(ascii: "a") < 26
            throw invalidWord(at: i, kind: letter ? "literal" : "number")
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "t"):
            if matchWord("true") { return .bool(true) }
            throw invalidWord(at: i, kind: "literal")
        case UInt8(ascii: "f"):
            if matchWord("false") { return .bool(false) }
            throw invalidWord(at: i, kind: "literal")
        case UInt8(ascii: "n"):
            if matchWord("null") { return .null }
            throw invalidWord(at: i, kind: "literal")
        case UInt8(ascii: "+"), UInt8(ascii: "."):
            throw invalidWord(at: i, kind: "number")
        case UInt8(ascii: "'"):
            throw JSONParseError(offset: i, message: "single-quoted strings are not allowed")
        case UInt8(ascii: "/"):
            throw JSONParseError(offset: i, message: "comments are not allowed")
        case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ","):
            throw JSONParseError(offset: i, message: "expected a value, got \(describeByte(at: i))")
        default:
            if isWordByte(c) { throw invalidWord(at: i, kind: "literal") }
            throw JSONParseError(offset: i, message: "expected a value, got \(describeByte(at: i))")
        }
    }

    // MARK: literals

    /// Matches `word` at `i` when it is not followed by another word character; advances past it.
    @inline(__always)
    mutating func matchWord(_ word: StaticString) -> Bool {
        let len = word.utf8CodeUnitCount
        guard n - i >= len else { return false }
        let w = word.utf8Start
        for k in 0..<len where p[i + k] != w[k] { return false }
        if i + len < n && isWordByte(p[i + len]) { return false }
        i += len
        return true
    }

    @inline(__always)
    func isWordByte(_ c: UInt8) -> Bool {
        // letters, digits, '+', '-', '.', '_'
        let lower = c | 0x20
        return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || (c &- UInt8(ascii: "0") < 10)
            || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
    }

    /// "invalid literal 'NaN'", quoting the run of word characters at `start` (at most 32 bytes).
    func invalidWord(at start: Int, kind: String) -> JSONParseError {
        var end = start
        while end < n && end - start < 32 && isWordByte(p[end]) { end += 1 }
        if end == start { end = start + 1 }
        let word = String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
        return JSONParseError(offset: start, message: "invalid \(kind) '\(word)'")
    }

    /// "'x'" for printable ASCII, "byte 0xNN" otherwise, "end of input" past the end.
    func describeByte(at k: Int) -> String {
        guard k < n else { return "end of input" }
        let c = p[k]
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + hex2(c)
    }

    func hex2(_ c: UInt8) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
        return String([digits[Int(c >> 4)], digits[Int(c & 15)]])
    }

    // MARK: containers

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth {
            throw JSONParseError(offset: i, message: "nesting deeper than \(maxDepth) levels")
        }
        i += 1  // '['
        skipWhitespace()
        var elements: [JSONValue] = []
        if i < n && p[i] == UInt8(ascii: "]") {
            i += 1
            return .array(elements)
        }
        elements.reserveCapacity(8)
        while true {
            do {
                elements.append(try parseValue(depth: depth))
            } catch {
                throw error.inside(index: elements.count)
            }
            skipWhitespace()
            guard i < n else {
                throw JSONParseError(offset: i, message: "unexpected end of input, expected ',' or ']'")
            }
            let c = p[i]
            if c == UInt8(ascii: ",") {
                i += 1
                skipWhitespace()
                if i < n && p[i] == UInt8(ascii: "]") {
                    throw JSONParseError(offset: i, message: "trailing comma in array")
                }
            } else if c == UInt8(ascii: "]") {
                i += 1
                return .array(elements)
            } else {
                throw JSONParseError(offset: i, message: "expected ',' or ']', got \(describeByte(at: i))")
            }
        }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth {
            throw JSONParseError(offset: i, message: "nesting deeper than \(maxDepth) levels")
        }
        i += 1  // '{'
        skipWhitespace()
        var members: [(key: String, value: JSONValue)] = []
        if i < n && p[i] == UInt8(ascii: "}") {
            i += 1
            return .object(JSONObject(members: members))
        }
        members.reserveCapacity(4)
        // Duplicate detection: linear scan while small, then a hash set.
        var keySet: Set<String>? = nil
        while true {
            guard i < n else {
                throw JSONParseError(offset: i, message: "unexpected end of input, expected a string key")
            }
            guard p[i] == UInt8(ascii: "\"") else {
                if p[i] == UInt8(ascii: "'") {
                    throw JSONParseError(offset: i, message: "single-quoted strings are not allowed")
                }
                throw JSONParseError(offset: i, message: "expected a string key, got \(describeByte(at: i))")
            }
            let keyOffset = i
            let key = try parseString()
            if var set = keySet {
                keySet = nil  // keep `set` uniquely referenced while inserting
                if !set.insert(key).inserted { throw duplicateKey(key, at: keyOffset) }
                keySet = set
            } else {
                for m in members where m.key == key { throw duplicateKey(key, at: keyOffset) }
                if members.count >= 16 {
                    var set = Set<String>(minimumCapacity: 64)
                    for m in members { set.insert(m.key) }
                    set.insert(key)
                    keySet = set
                }
            }
            skipWhitespace()
            guard i < n, p[i] == UInt8(ascii: ":") else {
                throw JSONParseError(offset: i, message: "expected ':' after object key, got \(describeByte(at: i))")
            }
            i += 1
            skipWhitespace()
            let value: JSONValue
            do {
                value = try parseValue(depth: depth)
            } catch {
                throw error.inside(key: key)
            }
            members.append((key: key, value: value))
            skipWhitespace()
            guard i < n else {
                throw JSONParseError(offset: i, message: "unexpected end of input, expected ',' or '}'")
            }
            let c = p[i]
            if c == UInt8(ascii: ",") {
                i += 1
                skipWhitespace()
                if i < n && p[i] == UInt8(ascii: "}") {
                    throw JSONParseError(offset: i, message: "trailing comma in object")
                }
            } else if c == UInt8(ascii: "}") {
                i += 1
                return .object(JSONObject(members: members))
            } else {
                throw JSONParseError(offset: i, message: "expected ',' or '}', got \(describeByte(at: i))")
            }
        }
    }

    func duplicateKey(_ key: String, at offset: Int) -> JSONParseError {
        var shown = key
        if shown.unicodeScalars.count > 64 { shown = String(shown.unicodeScalars.prefix(64)) + "…" }
        return JSONParseError(offset: offset, message: "duplicate key '\(shown)'")
    }

    // MARK: strings

    /// Parses a string starting at the opening quote at `i`; leaves `i` after the closing quote.
    mutating func parseString() throws(JSONParseError) -> String {
        let open = i
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < n {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw controlCharacter(at: i) }
            if c < 0x80 { i += 1 } else { try skipUTF8Sequence() }
        }
        if i >= n { throw JSONParseError(offset: open, message: "unterminated string") }
        // Slow path: copy into scratch, decoding escapes.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: p + start, count: i - start))
        while i < n {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") {
                try parseEscape()
            } else if c < 0x20 {
                throw controlCharacter(at: i)
            } else {
                let runStart = i
                if c < 0x80 { i += 1 } else { try skipUTF8Sequence() }
                while i < n {
                    let d = p[i]
                    if d == UInt8(ascii: "\"") || d == UInt8(ascii: "\\") || d < 0x20 { break }
                    if d < 0x80 { i += 1 } else { try skipUTF8Sequence() }
                }
                scratch.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: i - runStart))
            }
        }
        throw JSONParseError(offset: open, message: "unterminated string")
    }

    func controlCharacter(at k: Int) -> JSONParseError {
        JSONParseError(offset: k, message: "unescaped control character 0x\(hex2(p[k])) in string")
    }

    /// Validates one multi-byte UTF-8 sequence at `i` (p[i] >= 0x80) per Unicode Table 3-7 and skips it.
    @inline(__always)
    mutating func skipUTF8Sequence() throws(JSONParseError) {
        let c = p[i]
        var len: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF  // allowed range of the second byte
        switch c {
        case 0xC2...0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1...0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: throw JSONParseError(offset: i, message: "invalid UTF-8 byte 0x\(hex2(c))")
        }
        guard n - i >= len else { throw JSONParseError(offset: i, message: "truncated UTF-8 sequence") }
        let b1 = p[i + 1]
        guard b1 >= lo && b1 <= hi else { throw JSONParseError(offset: i, message: "invalid UTF-8 sequence") }
        var k = 2
        while k < len {
            guard p[i + k] & 0xC0 == 0x80 else {
                throw JSONParseError(offset: i, message: "invalid UTF-8 sequence")
            }
            k += 1
        }
        i += len
    }

    /// Decodes one escape at `i` (p[i] == '\\') into `scratch`.
    mutating func parseEscape() throws(JSONParseError) {
        let at = i
        guard i + 1 < n else { throw JSONParseError(offset: at, message: "unterminated string") }
        let e = p[i + 1]
        i += 2
        switch e {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(escapeAt: at)
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard n - i >= 6, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(offset: at, message: "unpaired surrogate in \\u escape")
                }
                let lowAt = i
                i += 2
                let low = try hex4(escapeAt: lowAt)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw JSONParseError(offset: at, message: "unpaired surrogate in \\u escape")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw JSONParseError(offset: at, message: "unpaired surrogate in \\u escape")
            }
            appendUTF8(scalar)
        default:
            if e < 0x20 || e >= 0x7F {
                throw JSONParseError(offset: at, message: "invalid escape in string")
            }
            throw JSONParseError(offset: at, message: "invalid escape '\\\(Character(Unicode.Scalar(e)))' in string")
        }
    }

    /// Reads 4 hex digits at `i`; `escapeAt` is the offset of the backslash, for errors.
    @inline(__always)
    mutating func hex4(escapeAt: Int) throws(JSONParseError) -> UInt32 {
        guard n - i >= 4 else { throw JSONParseError(offset: escapeAt, message: "invalid \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[i + k]
            let d: UInt8
            if c &- UInt8(ascii: "0") < 10 {
                d = c &- UInt8(ascii: "0")
            } else if (c | 0x20) &- UInt8(ascii: "a") < 6 {
                d = (c | 0x20) &- UInt8(ascii: "a") &+ 10
            } else {
                throw JSONParseError(offset: escapeAt, message: "invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }

    @inline(__always)
    mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            scratch.append(UInt8(s))
        } else if s < 0x800 {
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else if s < 0x10000 {
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else {
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }
}

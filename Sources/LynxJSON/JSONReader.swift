/// A pull parser over one JSON document, for request bodies whose shape the caller knows (a record with a
/// vector of numbers): it walks objects and arrays member by member and reads number arrays straight into
/// `[Float]`, without building a `JSONValue` tree for them. Values the caller does not special-case are read
/// whole with `value()`, under the same rules as `JSONParser` (strict RFC 8259, duplicate keys rejected,
/// nesting bounded by `maxDepth` counted from the document's root).
///
/// It checks the grammar as it goes but not everything `JSONParser` checks about the document as a whole
/// (duplicate keys of the objects walked with `nextKey` are the caller's to detect). Callers use it as a fast
/// path: on anything unexpected they give up and parse the body with `JSONParser`, which reports the precise
/// error.
///
/// Use through `JSONReader.read(_:maxDepth:_:)`, which keeps the bytes alive for the reader's lifetime.
public struct JSONReader {
    var scanner: JSONScanner
    /// Containers entered and not yet left (the root object is depth 1, as in `JSONParser`).
    var depth = 0

    /// Runs `body` with a reader positioned at the start of `bytes`.
    public static func read<T>(_ bytes: [UInt8], maxDepth: Int = 64,
                               _ body: (inout JSONReader) throws(JSONParseError) -> T) throws(JSONParseError) -> T {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> T in try read(buffer, maxDepth: maxDepth, body) }
        }
        return try result.get()
    }

    /// Runs `body` with a reader positioned at the start of `buffer`, which must stay valid meanwhile. The reader
    /// never reads outside it.
    public static func read<T>(_ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int = 64,
                               _ body: (inout JSONReader) throws(JSONParseError) -> T) throws(JSONParseError) -> T {
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw JSONParseError(offset: 0, message: "empty input")
        }
        var reader = JSONReader(scanner: JSONScanner(base: base, count: buffer.count, maxDepth: maxDepth))
        return try body(&reader)
    }

    /// Enters an object: true after consuming its '{', false (nothing consumed) when the next value is not one.
    public mutating func beginObject() throws(JSONParseError) -> Bool {
        try enter(UInt8(ascii: "{"))
    }

    /// Enters an array: true after consuming its '[', false (nothing consumed) when the next value is not one.
    public mutating func beginArray() throws(JSONParseError) -> Bool {
        try enter(UInt8(ascii: "["))
    }

    /// The next key of the object entered last, leaving the reader at its value; nil (after consuming '}') at
    /// the end of the object.
    public mutating func nextKey() throws(JSONParseError) -> String? {
        guard try nextItem(closing: UInt8(ascii: "}")) else { return nil }
        guard scanner.i < scanner.n, scanner.p[scanner.i] == UInt8(ascii: "\"") else {
            throw JSONParseError(offset: scanner.i, message: "expected a string key, got \(scanner.describeByte(at: scanner.i))")
        }
        let key = try scanner.parseString()
        scanner.skipWhitespace()
        guard scanner.i < scanner.n, scanner.p[scanner.i] == UInt8(ascii: ":") else {
            throw JSONParseError(offset: scanner.i, message: "expected ':' after object key, got \(scanner.describeByte(at: scanner.i))")
        }
        scanner.i += 1
        scanner.skipWhitespace()
        return key
    }

    /// True when the array entered last has another element (the reader is then at it); false (after consuming
    /// ']') at its end.
    public mutating func nextElement() throws(JSONParseError) -> Bool {
        try nextItem(closing: UInt8(ascii: "]"))
    }

    /// The next value, whole.
    public mutating func value() throws(JSONParseError) -> JSONValue {
        try scanner.parseValue(depth: depth)
    }

    /// Appends the elements of the array at the reader to `out`, each rounded to the nearest Float, and returns
    /// true; returns false when the next value is not an array of numbers only, or a number overflows Float
    /// (the reader is then somewhere inside it: give up on the document).
    public mutating func floatArray(into out: inout [Float]) throws(JSONParseError) -> Bool {
        guard try beginArray() else { return false }
        // A local copy keeps the cursor in a register through the loop (the hot loop of every write).
        var s = scanner
        defer { scanner = s }
        if s.i < s.n && s.p[s.i] == UInt8(ascii: "]") {
            s.i += 1
            depth -= 1
            return true
        }
        // Components are staged in a stack buffer and appended in blocks: `Array.append` per component (its
        // uniqueness and capacity checks) was a visible share of the loop.
        let closed = try withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.stagedFloats) {
            (staged: UnsafeMutableBufferPointer<Float>) throws(JSONParseError) -> Bool in
            var k = 0
            while true {
                guard s.i < s.n else { return false }
                let c = s.p[s.i]
                if c == UInt8(ascii: "-") {
                    guard s.i + 1 < s.n, s.p[s.i + 1] &- UInt8(ascii: "0") < 10 else { return false }
                } else if c &- UInt8(ascii: "0") >= 10 {
                    return false
                }
                let f: Float
                if let plain = s.plainDecimalFloat() { f = plain } else { f = try s.parseFloat() }
                guard f.isFinite else { return false }
                staged[k] = f
                k += 1
                if k == Self.stagedFloats {
                    out.append(contentsOf: staged)
                    k = 0
                }
                if s.i < s.n && s.p[s.i] == UInt8(ascii: ",") {
                    s.i += 1
                    if s.i < s.n && s.p[s.i] <= 0x20 { s.skipWhitespace() }
                    continue
                }
                s.skipWhitespace()
                guard s.i < s.n else { return false }
                if s.p[s.i] == UInt8(ascii: ",") {
                    s.i += 1
                    s.skipWhitespace()
                } else if s.p[s.i] == UInt8(ascii: "]") {
                    s.i += 1
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: staged[..<k]))
                    return true
                } else {
                    return false
                }
            }
        }
        if closed { depth -= 1 }
        return closed
    }

    public static let stagedFloats = 256

    /// Checks that nothing but whitespace follows the document.
    public mutating func end() throws(JSONParseError) {
        scanner.skipWhitespace()
        if scanner.i < scanner.n {
            throw JSONParseError(offset: scanner.i, message: "unexpected \(scanner.describeByte(at: scanner.i)) after the JSON value")
        }
    }

    // MARK: - Private

    private mutating func enter(_ open: UInt8) throws(JSONParseError) -> Bool {
        scanner.skipWhitespace()
        guard scanner.i < scanner.n, scanner.p[scanner.i] == open else { return false }
        depth += 1
        if depth > scanner.maxDepth {
            throw JSONParseError(offset: scanner.i, message: "nesting deeper than \(scanner.maxDepth) levels")
        }
        scanner.i += 1
        scanner.skipWhitespace()
        return true
    }

    /// Moves to the next item of the container entered last: consumes the ',' before it (none before the first),
    /// or the closing bracket at the end (returns false).
    private mutating func nextItem(closing: UInt8) throws(JSONParseError) -> Bool {
        scanner.skipWhitespace()
        guard scanner.i < scanner.n else {
            throw JSONParseError(offset: scanner.i, message: "unexpected end of input in a container")
        }
        let c = scanner.p[scanner.i]
        if c == closing {
            scanner.i += 1
            depth -= 1
            return false
        }
        if !atFirstItem() {
            guard c == UInt8(ascii: ",") else {
                throw JSONParseError(offset: scanner.i, message: "expected ',' or '\(Character(Unicode.Scalar(closing)))', got \(scanner.describeByte(at: scanner.i))")
            }
            scanner.i += 1
            scanner.skipWhitespace()
            guard scanner.i < scanner.n, scanner.p[scanner.i] != closing else {
                throw JSONParseError(offset: scanner.i, message: "trailing comma or end of input in a container")
            }
        }
        return true
    }

    /// True when the last non-whitespace byte before the cursor opened a container, i.e. no item of it has been
    /// read yet (no JSON value ends in '{' or '[', so the byte cannot belong to a previous item).
    private func atFirstItem() -> Bool {
        var k = scanner.i - 1
        while k >= 0 {
            let b = scanner.p[k]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { k -= 1; continue }
            return b == UInt8(ascii: "{") || b == UInt8(ascii: "[")
        }
        return false
    }
}

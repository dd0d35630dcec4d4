/// Strict RFC 8259 JSON parser for request bodies.
///
/// Rejects everything RFC 8259 does not allow — NaN/Infinity, leading zeros, `+1`, `.5`, `1.`, trailing commas,
/// single quotes, comments, raw control characters in strings, invalid escapes, invalid UTF-8, unpaired
/// surrogate escapes, bytes after the value, empty input — and additionally:
/// - objects with duplicate keys (the error names the key),
/// - nesting deeper than `maxDepth` arrays/objects (a top-level array is depth 1),
/// - numbers whose magnitude overflows `Double` (e.g. `1e400`), so every `JSONNumber.double` is finite; the error's
///   kind is `.numberOutOfRange` and its `path` says where the number is, since the document is valid JSON.
///
/// A UTF-8 byte order mark is not accepted (RFC 8259 §8.1: senders must not add one).
///
/// Concurrency: stateless; any thread may call `parse` at any time. Recursion depth is bounded by `maxDepth`,
/// which should stay modest (the default 64 needs well under 64 KiB of stack).
public enum JSONParser {
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONParseError(offset: 0, message: "empty input")
        }
        var scanner = JSONScanner(base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count, maxDepth: maxDepth)
        return try scanner.parseDocument()
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
        // Array.withUnsafeBytes is not typed-throws: carry the result out as a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in try parse(raw, maxDepth: maxDepth) }
        }
        return try result.get()
    }
}

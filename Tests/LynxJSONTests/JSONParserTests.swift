import LynxJSON
import XCTest

final class JSONParserTests: XCTestCase {
    func testValidDocuments() throws {
        let table: [(String, JSONValue)] = [
            ("null", .null),
            ("true", .bool(true)),
            ("false", .bool(false)),
            (" \t\r\n 0 \n", .number(JSONNumber(UInt64(0)))),
            ("-0", .number(JSONNumber(Int64(0)))),
            ("42", .number(JSONNumber(UInt64(42)))),
            ("-17", .number(JSONNumber(Int64(-17)))),
            ("1.5", .number(JSONNumber(1.5))),
            ("-0.25e1", .number(JSONNumber(-2.5))),
            ("1E2", .number(JSONNumber(100.0))),
            ("1e+2", .number(JSONNumber(100.0))),
            ("1e-2", .number(JSONNumber(0.01))),
            ("0.000001", .number(JSONNumber(0.000001))),
            ("1e-400", .number(JSONNumber(0.0))),
            ("1e0001", .number(JSONNumber(10.0))),
            ("\"\"", .string("")),
            ("\"abc\"", .string("abc")),
            ("\"h\\u00e9llo \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"", .string("héllo \"q\" \\ / \u{8}\u{c}\n\r\t")),
            ("\"\\u0000\"", .string("\u{0}")),
            ("\"\\uD83D\\uDE00 \\ud83d\\ude00\"", .string("😀 😀")),
            ("\"日本語 😀 ü\"", .string("日本語 😀 ü")),
            ("\"\u{7F}\"", .string("\u{7F}")),
            ("[]", .array([])),
            ("[ ]", .array([])),
            ("[1,[2,[3]],\"x\"]", .array([.number(JSONNumber(UInt64(1))),
                                         .array([.number(JSONNumber(UInt64(2))), .array([.number(JSONNumber(UInt64(3)))])]),
                                         .string("x")])),
            ("{}", obj([])),
            ("{ \"a\" : 1 , \"b\" : [true, null] }", obj([("a", .number(JSONNumber(UInt64(1)))), ("b", .array([.bool(true), .null]))])),
            ("{\"a\":{\"a\":{}}}", obj([("a", obj([("a", obj([]))]))])),
            ("{\"\":0}", obj([("", .number(JSONNumber(UInt64(0))))])),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try parse(text), expected, "document: \(text)")
        }
    }

    func testInvalidDocuments() {
        // (document, expected substring of the message, expected offset or nil)
        let table: [(String, String, Int?)] = [
            ("", "empty input", 0),
            ("   ", "empty input", 3),
            ("NaN", "invalid literal 'NaN'", 0),
            ("[1, NaN]", "invalid literal 'NaN'", 4),
            ("Infinity", "invalid literal 'Infinity'", 0),
            ("-Infinity", "invalid literal '-Infinity'", 0),
            ("[-Infinity]", "invalid literal '-Infinity'", 1),
            ("nan", "invalid literal 'nan'", 0),
            ("tru", "invalid literal 'tru'", 0),
            ("truex", "invalid literal 'truex'", 0),
            ("nul", "invalid literal", 0),
            ("True", "invalid literal 'True'", 0),
            ("undefined", "invalid literal", 0),
            ("01", "leading zeros", 0),
            ("-01", "leading zeros", 0),
            ("[00]", "leading zeros", 1),
            ("+1", "invalid number '+1'", 0),
            (".5", "invalid number '.5'", 0),
            ("-.5", "invalid number", 0),
            ("-", "invalid number", 0),
            ("1.", "digit after the decimal point", 2),
            ("1.e5", "digit after the decimal point", 2),
            ("1e", "digit in the exponent", 2),
            ("1e+", "digit in the exponent", 3),
            ("1E-x", "digit in the exponent", 3),
            ("0x10", "after the JSON value", 1),
            ("1.5.3", "after the JSON value", 3),
            ("1e400", "number out of range", 0),
            ("-1e400", "number out of range", 0),
            ("[1,]", "trailing comma in array", 3),
            ("[1,2,]", "trailing comma", 5),
            ("{\"a\":1,}", "trailing comma in object", 7),
            ("[,1]", "expected a value", 1),
            ("[1 2]", "expected ',' or ']'", 3),
            ("{\"a\" 1}", "expected ':'", 5),
            ("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7),
            ("{a:1}", "expected a string key", 1),
            ("{1:1}", "expected a string key", 1),
            ("'a'", "single-quoted", 0),
            ("{'a':1}", "single-quoted", 1),
            ("// c\n1", "comments are not allowed", 0),
            ("[1 /* c */]", "expected ',' or ']'", 3),
            ("/* c */ 1", "comments", 0),
            ("\"a\u{1}b\"", "control character 0x01", 2),
            ("\"a\nb\"", "control character 0x0A", 2),
            ("\"a\tb\"", "control character 0x09", 2),
            ("\"\\x\"", "invalid escape '\\x'", 1),
            ("\"\\'\"", "invalid escape", 1),
            ("\"\\u12\"", "invalid \\u escape", 1),
            ("\"\\u12G4\"", "invalid \\u escape", 1),
            ("\"\\uD800\"", "unpaired surrogate", 1),
            ("\"\\uD800x\"", "unpaired surrogate", 1),
            ("\"\\uDC00\"", "unpaired surrogate", 1),
            ("\"\\uD800\\u0041\"", "unpaired surrogate", 1),
            ("\"\\uD800\\uD800\"", "unpaired surrogate", 1),
            ("\"abc", "unterminated string", 0),
            ("\"abc\\", "unterminated string", 4),
            ("\"ab\\\"", "unterminated string", 0),
            ("[1", "expected ',' or ']'", 2),
            ("[", "expected a value", 1),
            ("{", "expected a string key", 1),
            ("{\"a\":", "expected a value", 5),
            ("{\"a\"", "expected ':'", 4),
            ("1 2", "after the JSON value", 2),
            ("{} x", "after the JSON value", 3),
            ("null null", "after the JSON value", 5),
            ("]", "expected a value, got ']'", 0),
            ("{\"a\":1,\"a\":2}", "duplicate key 'a'", 7),
            ("{\"id\":1,\"x\":{\"id\":2},\"id\":3}", "duplicate key 'id'", 21),
            ("{\"\\u0061\":1,\"a\":2}", "duplicate key 'a'", 12),
        ]
        for (text, fragment, offset) in table {
            guard let e = parseError(Array(text.utf8)) else {
                XCTFail("accepted invalid document: \(text.debugDescription)")
                continue
            }
            XCTAssertTrue(e.message.contains(fragment), "\(text.debugDescription): message '\(e.message)' lacks '\(fragment)'")
            if let offset {
                XCTAssertEqual(e.offset, offset, "\(text.debugDescription): \(e)")
            }
            XCTAssertEqual(e.description, "\(e.message) at byte \(e.offset)")
        }
    }

    /// Valid JSON whose number no double holds is told apart from a syntax error and says where the number is.
    func testNumberOutOfRangeCarriesItsPath() {
        let table: [(String, String)] = [
            ("1e400", ""),
            ("[0, -1e400]", "[1]"),
            ("{\"a\": [1, {\"b\": 1e999}]}", "a[1].b"),
            ("{\"m\": {\"x y\": [[0, 1" + String(repeating: "0", count: 400) + "]]}}", "m.x y[0][1]"),
        ]
        for (text, path) in table {
            guard let e = parseError(Array(text.utf8)) else { XCTFail("accepted \(text)"); continue }
            XCTAssertEqual(e.kind, .numberOutOfRange, text)
            XCTAssertEqual(e.path, path, text)
        }
        let first = parseError(Array("{\"a\": [1e400 2]}".utf8))
        XCTAssertEqual(first?.kind, .numberOutOfRange, "the first error found is reported")
        let other = parseError(Array("{\"a\": [1, 2,]}".utf8))
        XCTAssertEqual(other?.kind, .syntax)
        XCTAssertEqual(other?.path, "")
    }

    func testErrorDescription() {
        let e = parseError(Array("{\"vector\": [1, NaN]}".utf8))
        XCTAssertEqual(e?.description, "invalid literal 'NaN' at byte 15")
    }

    func testInvalidUTF8() {
        let bad: [[UInt8]] = [
            [0x80],                    // stray continuation byte
            [0xBF],
            [0xC0, 0x80],              // overlong NUL
            [0xC1, 0xBF],              // overlong
            [0xE0, 0x80, 0x80],        // overlong 3-byte
            [0xE0, 0x9F, 0xBF],
            [0xED, 0xA0, 0x80],        // UTF-8-encoded surrogate U+D800
            [0xED, 0xBF, 0xBF],        // U+DFFF
            [0xF0, 0x80, 0x80, 0x80],  // overlong 4-byte
            [0xF4, 0x90, 0x80, 0x80],  // > U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],
            [0xFF],
            [0xC3],                    // truncated
            [0xE6, 0x97],              // truncated
            [0xC3, 0x41],              // bad continuation
            [0xE6, 0x41, 0xA5],
            [0xF0, 0x9F, 0x98, 0x41],
        ]
        for seq in bad {
            // In a plain string, in a string with escapes, and as a key.
            for doc in [[0x22] + seq + [0x22],
                        [0x22, 0x5C, 0x6E] + seq + [0x22],
                        [0x7B, 0x22] + seq + [0x22, 0x3A, 0x31, 0x7D]] {
                let e = parseError(doc)
                XCTAssertNotNil(e, "accepted \(doc)")
                XCTAssertTrue(e?.message.contains("UTF-8") ?? false, "\(doc): \(String(describing: e))")
            }
            // Outside a string.
            XCTAssertNotNil(parseError(seq), "accepted bare \(seq)")
        }
        // Valid edge sequences.
        let good: [([UInt8], String)] = [
            ([0xC2, 0x80], "\u{80}"),
            ([0xDF, 0xBF], "\u{7FF}"),
            ([0xE0, 0xA0, 0x80], "\u{800}"),
            ([0xED, 0x9F, 0xBF], "\u{D7FF}"),
            ([0xEE, 0x80, 0x80], "\u{E000}"),
            ([0xEF, 0xBF, 0xBF], "\u{FFFF}"),
            ([0xF0, 0x90, 0x80, 0x80], "\u{10000}"),
            ([0xF4, 0x8F, 0xBF, 0xBF], "\u{10FFFF}"),
        ]
        for (seq, s) in good {
            XCTAssertEqual(try JSONParser.parse([0x22] + seq + [0x22]), .string(s))
            XCTAssertEqual(try JSONParser.parse([0x22, 0x5C, 0x74] + seq + [0x22]), .string("\t" + s))
        }
        // A byte order mark is not JSON.
        XCTAssertNotNil(parseError([0xEF, 0xBB, 0xBF, 0x31]))
    }

    func testDepthLimit() throws {
        func nested(_ d: Int) -> String { String(repeating: "[", count: d) + String(repeating: "]", count: d) }
        func nestedObjects(_ d: Int) -> String {
            String(repeating: "{\"a\":", count: d) + "1" + String(repeating: "}", count: d)
        }
        XCTAssertNoThrow(try parse(nested(64)))
        XCTAssertNoThrow(try parse(nestedObjects(64)))
        XCTAssertEqual(parseError(Array(nested(65).utf8))?.message, "nesting deeper than 64 levels")
        XCTAssertEqual(parseError(Array(nested(65).utf8))?.offset, 64)
        XCTAssertNotNil(parseError(Array(nestedObjects(65).utf8)))
        XCTAssertNoThrow(try parse(nested(3), maxDepth: 3))
        XCTAssertNotNil(parseError(Array(nested(4).utf8), maxDepth: 3))
        XCTAssertNoThrow(try parse("1", maxDepth: 0))
        XCTAssertNotNil(parseError(Array("[]".utf8), maxDepth: 0))
        // Deep garbage fails fast instead of overflowing the stack.
        XCTAssertNotNil(parseError(Array(String(repeating: "[", count: 1_000_000).utf8)))
    }

    func testExactIntegers() throws {
        func n(_ s: String) throws -> JSONNumber { try XCTUnwrap(parse(s).numberValue) }
        let zero = try n("0")
        XCTAssertEqual(zero.uint64, 0); XCTAssertEqual(zero.int64, 0); XCTAssertTrue(zero.isInteger)
        let negZero = try n("-0")
        XCTAssertEqual(negZero.uint64, 0); XCTAssertEqual(negZero.int64, 0)
        XCTAssertEqual(negZero.double.sign, .minus)

        let p53 = try n("9007199254740993")  // 2^53 + 1: not representable as Double
        XCTAssertEqual(p53.uint64, 9_007_199_254_740_993)
        XCTAssertEqual(p53.int64, 9_007_199_254_740_993)
        XCTAssertEqual(p53.double, 9_007_199_254_740_992)

        let max = try n("18446744073709551615")
        XCTAssertEqual(max.uint64, UInt64.max)
        XCTAssertNil(max.int64)
        XCTAssertTrue(max.isInteger)
        XCTAssertEqual(max.double, 18446744073709551615.0)

        let over = try n("18446744073709551616")
        XCTAssertNil(over.uint64)
        XCTAssertNil(over.int64)
        XCTAssertTrue(over.isInteger)
        XCTAssertEqual(over.double, 18446744073709551616.0)

        let huge = try n("123456789012345678901234567890")
        XCTAssertNil(huge.uint64)
        XCTAssertEqual(huge.double, 123456789012345678901234567890.0)

        let i64max = try n("9223372036854775807")
        XCTAssertEqual(i64max.int64, Int64.max); XCTAssertEqual(i64max.uint64, UInt64(Int64.max))
        let i64maxPlus = try n("9223372036854775808")
        XCTAssertNil(i64maxPlus.int64); XCTAssertEqual(i64maxPlus.uint64, UInt64(Int64.max) + 1)
        let i64min = try n("-9223372036854775808")
        XCTAssertEqual(i64min.int64, Int64.min); XCTAssertNil(i64min.uint64)
        let i64minMinus = try n("-9223372036854775809")
        XCTAssertNil(i64minMinus.int64); XCTAssertNil(i64minMinus.uint64)
        let negOne = try n("-1")
        XCTAssertEqual(negOne.int64, -1); XCTAssertNil(negOne.uint64)

        for s in ["1.0", "1e0", "10E-1", "0.5"] {
            let x = try n(s)
            XCTAssertFalse(x.isInteger, s)
            XCTAssertNil(x.uint64, s)
            XCTAssertNil(x.int64, s)
        }
        // 19 and 20 digit integers with leading part and overflow at every position.
        var rng = SeededRNG(seed: 7)
        for _ in 0..<10_000 {
            let v = UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            XCTAssertEqual(try n(String(v)).uint64, v)
            let i = Int64(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)) >> Int64.random(in: 0...63, using: &rng)
            XCTAssertEqual(try n(String(i)).int64, i)
        }
    }

    func testNumberEquality() throws {
        XCTAssertEqual(try parse("1"), try parse("1.0"))
        XCTAssertEqual(try parse("1"), try parse("1e0"))
        XCTAssertEqual(try parse("100"), try parse("1E2"))
        XCTAssertEqual(try parse("0"), try parse("-0"))
        XCTAssertEqual(try parse("0"), try parse("-0.0"))
        XCTAssertNotEqual(try parse("1"), try parse("2"))
        XCTAssertNotEqual(try parse("9007199254740993"), try parse("9007199254740992"))
        XCTAssertNotEqual(try parse("-1"), try parse("1"))
        XCTAssertEqual(JSONNumber(UInt64(5)), JSONNumber(Int64(5)))
        XCTAssertEqual(JSONNumber(UInt64(5)), JSONNumber(5.0))
        XCTAssertEqual(JSONNumber(UInt64.max), try parse("18446744073709551615").numberValue)
        XCTAssertNotEqual(try parse("1"), try parse("\"1\""))
    }

    func testNumberAccessors() throws {
        XCTAssertEqual(try parse("3.4028235e38").numberValue?.float, Float.greatestFiniteMagnitude)
        XCTAssertNil(try parse("3.5e38").numberValue?.float)
        XCTAssertNil(try parse("-1e39").numberValue?.float)
        XCTAssertEqual(try parse("1e-50").numberValue?.float, 0)
        XCTAssertEqual(try parse("0.1").numberValue?.float, Float(0.1))
        XCTAssertEqual(JSONNumber(Int64.min).int64, Int64.min)
        XCTAssertNil(JSONNumber(Int64.min).uint64)
        XCTAssertEqual(JSONNumber(UInt64.max).uint64, UInt64.max)
        XCTAssertNil(JSONNumber(2.0).uint64)
        XCTAssertFalse(JSONNumber(2.0).isInteger)
        XCTAssertTrue(JSONNumber(7).isInteger)
        XCTAssertEqual(JSONNumber(-7).description, "-7")
        XCTAssertEqual(try parse("-0").description, "0")
        let types = try ["null", "true", "1", "\"s\"", "[]", "{}"].map { try parse($0).typeName }
        XCTAssertEqual(types, ["null", "boolean", "number", "string", "array", "object"])
        XCTAssertTrue(try parse("null").isNull)
        XCTAssertEqual(try parse("true").boolValue, true)
        XCTAssertNil(try parse("1").stringValue)
    }

    func testObjectSemantics() throws {
        let a = try parse("{\"x\":1,\"y\":[true,{\"z\":null}]}")
        let b = try parse("{\"y\":[true,{\"z\":null}],\"x\":1.0}")
        XCTAssertEqual(a, b)  // order-insensitive, numbers by value
        XCTAssertNotEqual(a, try parse("{\"x\":1}"))
        XCTAssertNotEqual(a, try parse("{\"x\":1,\"w\":[true,{\"z\":null}]}"))
        let o = try XCTUnwrap(a.objectValue)
        XCTAssertEqual(o.count, 2)
        XCTAssertEqual(o.members.map(\.key), ["x", "y"])  // source order
        XCTAssertEqual(o["x"], .number(JSONNumber(UInt64(1))))
        XCTAssertNil(o["nope"])
        XCTAssertEqual(a["y"]?.arrayValue?.count, 2)
        // Arrays are ordered.
        XCTAssertNotEqual(try parse("[1,2]"), try parse("[2,1]"))
        // Duplicate detection also works for large objects (hash-set path).
        var members = (0..<100).map { "\"k\($0)\":\($0)" }
        XCTAssertEqual(try parse("{" + members.joined(separator: ",") + "}").objectValue?.count, 100)
        members.append("\"k57\":0")
        XCTAssertEqual(parseError(Array(("{" + members.joined(separator: ",") + "}").utf8))?.message, "duplicate key 'k57'")
    }

    func testUnsafeBufferEntryPoint() throws {
        let text = "{\"vector\":[0.5,-1.25,3e2]}"
        let v = try Array(text.utf8).withUnsafeBytes { try JSONParser.parse($0) }
        XCTAssertEqual(v["vector"], .array([.number(JSONNumber(0.5)), .number(JSONNumber(-1.25)), .number(JSONNumber(300.0))]))
        // Parsing a prefix of a buffer must not read past it.
        let bytes = Array("[1,2]xyz".utf8)
        let w = try bytes.withUnsafeBytes { try JSONParser.parse(UnsafeRawBufferPointer(rebasing: $0[0..<5])) }
        XCTAssertEqual(w.arrayValue?.count, 2)
        let e = bytes.withUnsafeBytes { raw -> JSONParseError? in
            do { _ = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[0..<4])); return nil } catch { return error as? JSONParseError }
        }
        XCTAssertEqual(e?.offset, 4)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        XCTAssertThrowsError(try JSONParser.parse(empty))
    }
}

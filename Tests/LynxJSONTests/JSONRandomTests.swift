import Foundation
import LynxJSON
import XCTest

/// Seeded random documents, random mutations, and random numeric literals.
final class JSONRandomTests: XCTestCase {
    // MARK: generators

    func randomString(_ rng: inout SeededRNG) -> String {
        let length = Int.random(in: 0...12, using: &rng)
        var s = String.UnicodeScalarView()
        for _ in 0..<length {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: s.append(Unicode.Scalar(UInt8.random(in: 0...0x1F, using: &rng)))      // control: escaped
            case 1: s.append(["\"", "\\", "/"].randomElement(using: &rng)!)
            case 2: s.append(Unicode.Scalar(UInt32.random(in: 0x80...0x7FF, using: &rng))!)
            case 3: s.append(Unicode.Scalar(UInt32.random(in: 0xE000...0xFFFF, using: &rng))!)
            case 4: s.append(Unicode.Scalar(UInt32.random(in: 0x10000...0x10FFFF, using: &rng))!)
            default: s.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng)))
            }
        }
        return String(s)
    }

    func randomNumber(_ rng: inout SeededRNG) -> JSONNumber {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return JSONNumber(UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
        case 1: return JSONNumber(Int64(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)) >> Int64.random(in: 0...63, using: &rng))
        case 2: return JSONNumber(Double(Float.random(in: -1...1, using: &rng)))
        case 3: return JSONNumber(Double.random(in: -1e6...1e6, using: &rng))
        default:
            while true {
                let d = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))
                if d.isFinite { return JSONNumber(d) }
            }
        }
    }

    func randomValue(_ rng: inout SeededRNG, depth: Int) -> JSONValue {
        let leafOnly = depth >= 6
        switch Int.random(in: 0..<(leafOnly ? 4 : 6), using: &rng) {
        case 0: return [.null, .bool(true), .bool(false)].randomElement(using: &rng)!
        case 1, 2: return .number(randomNumber(&rng))
        case 3: return .string(randomString(&rng))
        case 4:
            let count = Int.random(in: 0...6, using: &rng)
            return .array((0..<count).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            let count = Int.random(in: 0...(Bool.random(using: &rng) ? 6 : 24), using: &rng)
            var keys = Set<String>()
            var members: [(key: String, value: JSONValue)] = []
            for _ in 0..<count {
                let k = randomString(&rng)
                if keys.insert(k).inserted { members.append((key: k, value: randomValue(&rng, depth: depth + 1))) }
            }
            return .object(JSONObject(members: members))
        }
    }

    /// Inserts random RFC 8259 whitespace around structural characters (outside strings).
    func sprinkleWhitespace(_ bytes: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false, escaped = false
        let structural = Set("{}[],:".utf8)
        for b in bytes {
            if !inString && structural.contains(b) && Int.random(in: 0..<2, using: &rng) == 0 {
                out.append([0x20, 0x09, 0x0A, 0x0D].randomElement(using: &rng)!)
            }
            out.append(b)
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
            } else if b == 0x22 {
                inString = true
            }
        }
        return out
    }

    // MARK: tests

    func testRandomDocumentsRoundTrip() throws {
        var rng = SeededRNG(seed: 2024)
        for round in 0..<2000 {
            let value = randomValue(&rng, depth: 0)
            var w = JSONWriter()
            w.write(value)
            let parsed = try JSONParser.parse(w.bytes)
            XCTAssertEqual(parsed, value, "round \(round): \(String(decoding: w.bytes, as: UTF8.self))")
            // Writing the parsed value again gives the same bytes.
            var w2 = JSONWriter()
            w2.write(parsed)
            XCTAssertEqual(w2.bytes, w.bytes, "round \(round)")
            // Whitespace between tokens changes nothing.
            XCTAssertEqual(try JSONParser.parse(sprinkleWhitespace(w.bytes, &rng)), value, "round \(round)")
            // Foundation agrees that the writer's output is JSON.
            if round % 10 == 0 {
                XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(w.bytes), options: [.fragmentsAllowed]),
                                 "round \(round)")
            }
        }
    }

    func testRandomMutationsNeverCrash() {
        var rng = SeededRNG(seed: 99)
        let interesting: [UInt8] = Array("{}[]\",:\\-+.eE0123456789 tfnu\u{7f}".utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        var accepted = 0, rejected = 0
        for _ in 0..<1500 {
            var w = JSONWriter()
            w.write(randomValue(&rng, depth: 0))
            let original = w.bytes
            guard !original.isEmpty else { continue }
            for _ in 0..<20 {
                var doc = original
                for _ in 0...Int.random(in: 0...2, using: &rng) {
                    guard !doc.isEmpty else { break }
                    let at = Int.random(in: 0..<doc.count, using: &rng)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0: doc[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)   // bit flip
                    case 1: doc[at] = interesting.randomElement(using: &rng)!             // byte swap
                    case 2: doc.removeSubrange(at...)                                      // truncation
                    case 3: doc.insert(interesting.randomElement(using: &rng)!, at: at)    // insertion
                    default: doc.remove(at: at)                                            // deletion
                    }
                }
                // Parse from an exactly-sized heap copy so reads past the end would hit unowned memory.
                let heap = UnsafeMutableRawBufferPointer.allocate(byteCount: max(doc.count, 1), alignment: 1)
                defer { heap.deallocate() }
                heap.copyBytes(from: doc)
                do {
                    let v = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: heap[0..<doc.count]))
                    accepted += 1
                    // Whatever parses must survive a write/parse round trip.
                    var w2 = JSONWriter()
                    w2.write(v)
                    XCTAssertEqual(try JSONParser.parse(w2.bytes), v)
                } catch {
                    rejected += 1
                    XCTAssertTrue(error.offset >= 0 && error.offset <= doc.count, "\(error) for \(doc.count) bytes")
                    XCTAssertFalse(error.message.isEmpty)
                }
            }
        }
        XCTAssertGreaterThan(accepted, 0)
        XCTAssertGreaterThan(rejected, 0)
    }

    func testRandomGarbageNeverCrashes() {
        var rng = SeededRNG(seed: 5)
        let alphabet = Array("{}[]\",:\\-+.eE0123456789 truefalsnNI\u{0}\n".utf8) + [0x80, 0xC3, 0xA9, 0xF0, 0x9F]
        for _ in 0..<50_000 {
            let doc = (0..<Int.random(in: 0...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            _ = try? JSONParser.parse(doc)
        }
    }

    func testNumericLiteralsMatchDoubleInit() throws {
        var rng = SeededRNG(seed: 77)
        func digits(_ count: Int, leadingNonZero: Bool) -> String {
            var s = ""
            for k in 0..<count {
                let lo: UInt8 = (k == 0 && leadingNonZero) ? 1 : 0
                s.append(Character(Unicode.Scalar(UInt8.random(in: lo...9, using: &rng) + 48)))
            }
            return s
        }
        var checked = 0, outOfRange = 0
        for _ in 0..<200_000 {
            var lit = Bool.random(using: &rng) ? "-" : ""
            // Integer part: "0" or up to 25 digits (mantissas beyond 19 digits exercise strtod).
            let intDigits = Int.random(in: 0...25, using: &rng)
            lit += intDigits == 0 ? "0" : digits(intDigits, leadingNonZero: true)
            if Int.random(in: 0..<3, using: &rng) != 0 {
                let frac = Int.random(in: 1...(Bool.random(using: &rng) ? 9 : 30), using: &rng)
                lit += "." + digits(frac, leadingNonZero: false)
            }
            if Bool.random(using: &rng) {
                lit += ["e", "E"].randomElement(using: &rng)! + ["", "+", "-"].randomElement(using: &rng)!
                let e = Bool.random(using: &rng) ? Int.random(in: 0...30, using: &rng) : Int.random(in: 0...330, using: &rng)
                lit += (Int.random(in: 0..<8, using: &rng) == 0 ? "0" : "") + String(e)
            }
            let expected = try XCTUnwrap(Double(lit), lit)
            if expected.isFinite {
                let got = try XCTUnwrap(JSONParser.parse(Array(lit.utf8)).numberValue).double
                if got.bitPattern != expected.bitPattern { XCTFail("\(lit): got \(got), Double(String) says \(expected)") }
                checked += 1
            } else {
                XCTAssertThrowsError(try JSONParser.parse(Array(lit.utf8)), lit)
                outOfRange += 1
            }
        }
        XCTAssertGreaterThan(checked, 150_000)
        XCTAssertGreaterThan(outOfRange, 0)
    }

    func testHardNumericLiterals() throws {
        // Halfway cases, boundaries and long mantissas, checked against Double(String).
        let literals = [
            "9007199254740993", "9007199254740993.0", "9007199254740995", "1.7976931348623157e308", "1.7976931348623158e308",
            "1.7976931348623159e308", "1.797693134862315807e308", "1.797693134862315808e308", "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9406564584124654e-324",
            "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-324", "0.1", "0.3", "123456789012345678",
            "1234567890123456789", "12345678901234567890", "0.12345678901234567", "0.1234567890123456789012",
            "7.2057594037927933e16", "8.98846567431158e307", "3.4028235e38", "3.4028236e38", "1.00000005960464477539062499",
            "1.000000059604644775390625", "1.00000005960464477539062501", "5e-324", "0.000000000000000000000000000001",
            "100000000000000000000000", "1" + String(repeating: "0", count: 400) + "e-400",
            "0." + String(repeating: "0", count: 400) + "1e400",
        ]
        for lit in literals {
            let expected = try XCTUnwrap(Double(lit))
            if expected.isInfinite {
                XCTAssertThrowsError(try JSONParser.parse(Array(lit.utf8)), lit)
                continue
            }
            let got = try XCTUnwrap(JSONParser.parse(Array(lit.utf8)).numberValue).double
            XCTAssertEqual(got.bitPattern, expected.bitPattern, lit)
            let neg = try XCTUnwrap(JSONParser.parse(Array(("-" + lit).utf8)).numberValue).double
            XCTAssertEqual(neg.bitPattern, (-expected).bitPattern, "-" + lit)
        }
    }

    func testVectorBody() throws {
        var rng = SeededRNG(seed: 1)
        let v = (0..<384).map { _ in Float.random(in: -1...1, using: &rng) }
        var w = JSONWriter()
        w.beginObject()
        w.key("id"); w.uint64(9_007_199_254_740_993)
        w.key("vector"); w.floatArray(v)
        w.key("metadata"); w.beginObject(); w.key("tag"); w.string("a"); w.endObject()
        w.endObject()
        let doc = try JSONParser.parse(w.bytes)
        XCTAssertEqual(doc["id"]?.numberValue?.uint64, 9_007_199_254_740_993)
        let parsed = try XCTUnwrap(doc["vector"]?.arrayValue).map { $0.numberValue?.float }
        XCTAssertEqual(parsed, v)
        // Foundation reads the same floats.
        let f = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        let fv = try XCTUnwrap(f["vector"] as? [NSNumber]).map { $0.floatValue }
        XCTAssertEqual(fv, v)
    }
}

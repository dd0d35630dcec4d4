import LynxJSON
import XCTest

final class JSONWriterTests: XCTestCase {
    func testLowLevelCommas() {
        let s = written { w in
            w.beginObject()
            w.key("id"); w.uint64(18_446_744_073_709_551_615)
            w.key("neg"); w.int64(Int64.min)
            w.key("i"); w.int(-3)
            w.key("vector"); w.floatArray([0.5, -1, 1e-5, 3.4028235e38])
            w.key("empty"); w.beginArray(); w.endArray()
            w.key("o"); w.beginObject(); w.endObject()
            w.key("list")
            w.beginArray()
            w.null(); w.bool(true); w.bool(false); w.string("a\"b"); w.double(0.1); w.float(0.1)
            w.beginObject(); w.key("k"); w.null(); w.endObject()
            w.beginArray(); w.uint64(0); w.endArray()
            w.endArray()
            w.endObject()
        }
        XCTAssertEqual(s, #"{"id":18446744073709551615,"neg":-9223372036854775808,"i":-3,"vector":[0.5,-1.0,1e-05,3.4028235e+38],"empty":[],"o":{},"list":[null,true,false,"a\"b",0.1,0.1,{"k":null},[0]]}"#)
        XCTAssertNoThrow(try JSONParser.parse(Array(s.utf8)))
    }

    func testTopLevelScalarsAndSequence() {
        XCTAssertEqual(written { $0.null() }, "null")
        XCTAssertEqual(written { $0.uint64(0) }, "0")
        XCTAssertEqual(written { $0.int64(-1) }, "-1")
        XCTAssertEqual(written { $0.double(-0.0) }, "-0.0")
        XCTAssertEqual(written { $0.double(1e300) }, "1e+300")
        XCTAssertEqual(written { $0.double(.leastNonzeroMagnitude) }, "5e-324")
        XCTAssertEqual(written { $0.double(123456.789) }, "123456.789")
        XCTAssertEqual(written { $0.floatArray([Float]()) }, "[]")
    }

    func testStringEscapes() throws {
        let s = "q\" b\\ / \n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f} é 😀"
        let out = written { $0.string(s) }
        XCTAssertEqual(out, "\"q\\\" b\\\\ / \\n\\r\\t\\b\\f\\u0000\\u001f\u{7f} é 😀\"")
        XCTAssertEqual(try JSONParser.parse(Array(out.utf8)), .string(s))
        // Keys are escaped too.
        let k = written { w in w.beginObject(); w.key("a\"\n"); w.uint64(1); w.endObject() }
        XCTAssertEqual(k, "{\"a\\\"\\n\":1}")
    }

    func testWriteDOM() throws {
        let text = #"{"id":7,"v":[1.5,-2,18446744073709551615,-9223372036854775808,1e+300],"m":{"s":"x","b":false,"n":null,"a":[]}}"#
        let v = try JSONParser.parse(Array(text.utf8))
        var w = JSONWriter()
        w.write(v)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), text)
        XCTAssertEqual(v.description, text)
        // Non-integer literals are written via their double (shortest form).
        XCTAssertEqual(try parse("[1.0,1e2,0.10,-0.0,18446744073709551616]").description, "[1.0,100.0,0.1,-0.0,1.8446744073709552e+19]")
    }

    func testFloatRoundTripBitExact() throws {
        var rng = SeededRNG(seed: 42)
        var floats: [Float] = []
        floats.reserveCapacity(200_000)
        // Edge values, then random bit patterns (all exponents), then "typical" embedding values.
        floats += [0, -0.0, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                   .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .ulpOfOne, 0.1, 1.0 / 3, 16_777_216, 16_777_218]
        while floats.count < 150_000 {
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            if f.isFinite { floats.append(f) }
        }
        while floats.count < 200_000 { floats.append(Float.random(in: -1...1, using: &rng)) }

        var w = JSONWriter()
        w.floatArray(floats)
        let parsed = try XCTUnwrap(JSONParser.parse(w.bytes).arrayValue)
        XCTAssertEqual(parsed.count, floats.count)
        for (f, v) in zip(floats, parsed) {
            guard let n = v.numberValue, let g = n.float else { XCTFail("not a float: \(v)"); continue }
            if g.bitPattern != f.bitPattern { XCTFail("float \(f) (\(f.bitPattern)) came back as \(g)") }
        }
        // Single floats through float(_:) agree with floatArray.
        for f in floats.prefix(1000) {
            let s = written { $0.float(f) }
            XCTAssertEqual(s, f.description)
        }
    }

    func testDoubleRoundTripBitExact() throws {
        var rng = SeededRNG(seed: 43)
        var w = JSONWriter()
        var doubles: [Double] = [0, -0.0, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                                 -.greatestFiniteMagnitude, .ulpOfOne, 0.1, 0.2, 0.3, 1.0 / 3, 9_007_199_254_740_994]
        while doubles.count < 100_000 {
            let d = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))
            if d.isFinite { doubles.append(d) }
        }
        while doubles.count < 150_000 { doubles.append(Double.random(in: -1000...1000, using: &rng)) }
        w.beginArray()
        for d in doubles { w.double(d) }
        w.endArray()
        let parsed = try XCTUnwrap(JSONParser.parse(w.bytes).arrayValue)
        XCTAssertEqual(parsed.count, doubles.count)
        for (d, v) in zip(doubles, parsed) {
            let got = try XCTUnwrap(v.numberValue).double
            if got.bitPattern != d.bitPattern { XCTFail("double \(d) came back as \(got)") }
        }
    }
}

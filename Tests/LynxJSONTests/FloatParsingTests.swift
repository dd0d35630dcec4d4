import Foundation
import LynxJSON
import XCTest

/// Vector components are rounded to Float straight from the decimal literal: the fast paths (`JSONReader` arrays
/// and `JSONNumber.float`) must agree bit for bit with a correctly rounded conversion (`Float(String)`, which is
/// strtof in the C locale), including literals that sit next to a Float rounding midpoint, where rounding through
/// the nearest Double would go wrong.
final class FloatParsingTests: XCTestCase {
    /// Parses `literals` as one JSON array with both the reader and the tree parser and checks every component
    /// against `Float(String)`.
    func assertCorrectlyRounded(_ literals: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let body = Array(("[" + literals.joined(separator: ",") + "]").utf8)
        var fast: [Float] = []
        let read = try JSONReader.read(body) { (r: inout JSONReader) throws(JSONParseError) -> Bool in
            let ok = try r.floatArray(into: &fast)
            if ok { try r.end() }
            return ok
        }
        let expected = literals.map { Float($0)! }
        let allFinite = expected.allSatisfy { $0.isFinite }
        XCTAssertEqual(read, allFinite, "floatArray accepts exactly the arrays of finite floats", file: file, line: line)
        guard case .array(let tree) = try JSONParser.parse(body) else { return XCTFail("not an array", file: file, line: line) }
        for (k, literal) in literals.enumerated() {
            let want = expected[k]
            if allFinite {
                XCTAssertEqual(fast[k].bitPattern, want.bitPattern, "reader: \(literal)", file: file, line: line)
            }
            let viaTree = tree[k].numberValue?.float
            XCTAssertEqual(viaTree?.bitPattern, want.isFinite ? want.bitPattern : nil, "tree: \(literal)", file: file, line: line)
        }
    }

    /// `assertCorrectlyRounded` over `literals` cut into arrays of `size`.
    func assertCorrectlyRounded(_ literals: [String], inArraysOf size: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        for start in stride(from: 0, to: literals.count, by: size) {
            try assertCorrectlyRounded(Array(literals[start..<min(start + size, literals.count)]), file: file, line: line)
        }
    }

    func testCommonFormats() throws {
        try assertCorrectlyRounded(["0", "-0", "1", "-1", "0.5", "0.123456", "-0.999999", "1e-5", "1E+2", "3.4028235e38",
                                    "1.1754944e-38", "0.0001", "123456789", "0.30000001192092896", "-0.0",
                                    "16777217", "16777216.5", "1e10", "1e-10", "7.006492e-46"])
        try assertCorrectlyRounded(["3.5e38"])  // overflows Float: the reader refuses, the tree says nil
    }

    func testRandomFloatsInEveryFormat() throws {
        var rng = SeededRNG(seed: 7)
        var literals: [String] = []
        for _ in 0..<20_000 {
            let f: Float
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: f = Float.random(in: -1...1, using: &rng)
            case 1: f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            default: f = Float.random(in: -1e-3...1e-3, using: &rng)
            }
            guard f.isFinite else { continue }
            literals.append("\(f)")                       // shortest round-trip form
            literals.append("\(Double(f))")               // as a Double, 17 significant digits at most
            literals.append(String(Double(f).description.prefix(9)).trimmingTrailingPunctuation())  // cut short
        }
        try assertCorrectlyRounded(literals, inArraysOf: 1000)
    }

    /// Decimal literals that round to a Double exactly on a Float midpoint while lying just off it.
    func testLiteralsNextToFloatMidpoints() throws {
        var rng = SeededRNG(seed: 11)
        var literals: [String] = []
        for _ in 0..<5_000 {
            let f = Float.random(in: 1e-30...1e30, using: &rng)
            let mid = (Double(f) + Double(f.nextUp)) / 2  // exact in Double
            literals.append("\(mid)")
            literals.append("\(mid.nextUp)")
            literals.append("\(mid.nextDown)")
            literals.append("-\(mid)")
        }
        try assertCorrectlyRounded(literals, inArraysOf: 1000)
    }

    /// The same in fixed-point notation with 19 digits (the reader's fast path without an exponent): the literal
    /// lies within 10^-18 of the midpoint, closer than a Double can tell apart.
    func testFixedPointLiteralsNextToFloatMidpoints() throws {
        var rng = SeededRNG(seed: 17)
        var literals: [String] = []
        for _ in 0..<5_000 {
            let f = Float(pow(10, Double.random(in: -3..<6, using: &rng)))
            let mid = (Double(f) + Double(f.nextUp)) / 2
            let integerDigits = max(1, Int(log10(mid)) + 1)
            for x in [mid, mid.nextUp, mid.nextDown] {
                literals.append(String(format: "%.\(19 - integerDigits)f", x))
                literals.append(String(format: "-%.\(18 - integerDigits)f", x))
            }
        }
        try assertCorrectlyRounded(literals, inArraysOf: 1000)
    }

    /// Fixed-point literals with 1 to 19 digits (the reader's no-exponent fast path, and its limits at 7 integer
    /// and 19 total digits), with and without a sign, including leading zeros of the fraction.
    func testFixedPointLiteralsOfEveryLength() throws {
        var rng = SeededRNG(seed: 13)
        var literals: [String] = []
        for _ in 0..<4_000 {
            let scale = [1e-6, 1e-3, 1, 1e3, 1e6, 1e7, 1e9].randomElement(using: &rng)!
            let x = Double.random(in: -1...1, using: &rng) * scale
            literals.append(String(format: "%.\(Int.random(in: 1...19, using: &rng))f", x))
        }
        try assertCorrectlyRounded(literals, inArraysOf: 500)
        // Short arrays: the literal ends within eight bytes of the end of the input.
        for literal in ["0.5", "-0.25", "12.125", "0.1234567", "1234567.5", "0"] {
            try assertCorrectlyRounded([literal])
        }
    }

    /// The reader stages components in blocks of `JSONReader.stagedFloats`: arrays around those sizes keep every
    /// component, in order.
    func testArrayLengthsAroundTheStagingBlock() throws {
        let block = JSONReader.stagedFloats
        for count in [1, block - 1, block, block + 1, 2 * block, 2 * block + 3] {
            try assertCorrectlyRounded((0..<count).map { "\($0).25" })
        }
    }

    func testReaderRefusesNonNumbers() throws {
        for text in ["[1, \"2\"]", "[1, null]", "[1, [2]]", "[1 2]", "{}", "[-]", "[01.5, 1]", "[-01.25, 1, 2]",
                     "[1., 2, 3, 4]", "[.5, 1, 2, 3]", "[0.5e, 1, 2]", "[0.5.5, 1, 2, 3]", "[0.1234567890-1, 2]",
                     "[1234567.1234-5, 1]"] {
            let body = Array(text.utf8)
            var out: [Float] = []
            let ok = try? JSONReader.read(body) { (r: inout JSONReader) throws(JSONParseError) -> Bool in
                try r.floatArray(into: &out)
            }
            XCTAssertNotEqual(ok, true, text)
        }
    }
}

private extension String {
    /// "1.5e-" or "2." cut from a longer literal are not JSON numbers: drop the dangling part.
    func trimmingTrailingPunctuation() -> String {
        var s = Substring(self)
        while let last = s.last, !last.isNumber { s = s.dropLast() }
        if s.hasSuffix("e") || s.hasSuffix("E") { s = s.dropLast() }
        return s.isEmpty ? "0" : String(s)
    }
}

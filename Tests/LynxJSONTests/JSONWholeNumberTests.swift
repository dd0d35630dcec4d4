import LynxJSON
import XCTest

/// A number written with a fraction or exponent whose value is whole (`1.0`, `1e3`) is an integer to JSON Schema;
/// `wholeUInt64`/`wholeInt64` give its exact value from the digits, never through `Double`.
final class JSONWholeNumberTests: XCTestCase {
    private func n(_ s: String) throws -> JSONNumber { try XCTUnwrap(parse(s).numberValue, s) }

    func testWholeLiterals() throws {
        let table: [(String, UInt64?)] = [
            ("1.0", 1), ("1e3", 1000), ("1E+3", 1000), ("2.50e1", 25), ("100e-2", 1), ("0.0", 0), ("0e5", 0),
            ("-0.0", 0), ("0.000e-9", 0), ("7", 7), ("1.5", nil), ("15e-1", nil), ("1e-1", nil), ("0.1e1", 1),
            ("12.3400e2", 1234), ("12.3401e2", nil),
            // Beyond 2^53 a Double cannot tell these apart; the exact value can.
            ("9007199254740993.0", 9_007_199_254_740_993), ("9007199254740993e0", 9_007_199_254_740_993),
            ("900719925474099.3e1", 9_007_199_254_740_993),
            ("18446744073709551615.0", UInt64.max), ("1.8446744073709551615e19", UInt64.max),
            ("18446744073709551615.5", nil), ("18446744073709551616.0", nil), ("1e20", nil), ("1e300", nil), ("0e1000000000", 0), ("1e-1000000000", nil),
            ("-1.0", nil),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try n(text).wholeUInt64, expected, text)
        }
        XCTAssertEqual(try n("-1.0").wholeInt64, -1)
        XCTAssertEqual(try n("-9.223372036854775808e18").wholeInt64, Int64.min)
        XCTAssertNil(try n("-9.223372036854775809e18").wholeInt64)
        XCTAssertNil(try n("0.5").wholeInt64)
    }

    func testHowTheLiteralWasWrittenIsKept() throws {
        let x = try n("1.0")
        XCTAssertFalse(x.isInteger)
        XCTAssertNil(x.uint64)
        XCTAssertNil(x.int64)
        XCTAssertTrue(x.isWhole)
        XCTAssertFalse(try n("1.5").isWhole)
        XCTAssertTrue(try n("1e30").isWhole)  // out of every range the API has
        XCTAssertEqual(try n("42").wholeUInt64, 42)
    }

    /// Random values written in several whole and non-whole ways, checked against the value itself.
    func testRandomSpellings() throws {
        var rng = SeededRNG(seed: 11)
        for _ in 0..<5_000 {
            let v = UInt64.random(in: 1...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            guard v != 0 else { continue }  // "00e-1" is no JSON; 0 is in the table above
            let digits = String(v)
            let shift = Int.random(in: 0..<digits.count, using: &rng)
            let split = digits.index(digits.startIndex, offsetBy: digits.count - shift)
            let shifted = shift == 0 ? digits + ".0" : "\(digits[..<split]).\(digits[split...])e\(shift)"
            for whole in [digits + ".000", digits + "e0", digits + "0e-1", shifted] {
                XCTAssertEqual(try n(whole).wholeUInt64, v, whole)
            }
            for notWhole in [digits + ".5", digits + "5e-1", digits + ".0000000000000000000001"] {
                XCTAssertNil(try n(notWhole).wholeUInt64, notWhole)
            }
        }
    }
}

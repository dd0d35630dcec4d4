#if canImport(Glibc)
import Glibc  // strtod only
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Number parsing: grammar check, exact integers, correctly rounded doubles and floats.
//
//   number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
//
// Up to 19 significant digits are accumulated in a UInt64 with a decimal exponent. Then, in order:
//  1. Clinger's fast path: mantissa <= 2^53 and |exp10| <= 22 -> one exact multiply/divide by a power of ten.
//  2. (x86_64) mantissa < 2^64 and |exp10| <= 27 -> one correctly rounded Float80 multiply/divide, then a rounding
//     to Double, which is exact unless the Float80 result lies exactly on a Double rounding midpoint (checked).
//  3. Otherwise `strtod` on a NUL-terminated copy of the literal (glibc's strtod is correctly rounded; Swift
//     processes run in the "C" locale unless someone calls setlocale, and JSON literals never contain ',').
// Floats (`floatValue`): mantissa <= 2^24 and |exp10| <= 10 -> one exact Float multiply/divide; otherwise the
// nearest Double rounded to Float, which is exact except on a Float midpoint or below Float's normal range
// (then `strtof`).

/// 10^0 ... 10^22, all exactly representable as Double.
private let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

#if (arch(i386) || arch(x86_64)) && !os(Windows) && !os(Android)
/// 10^0 ... 10^27, all exactly representable as Float80 (5^27 < 2^63).
private let powersOfTen80: [Float80] = {
    var t: [Float80] = []
    var x: Float80 = 1
    for _ in 0...27 { t.append(x); x *= 10 }
    return t
}()
#endif

/// The digits of one number literal, as scanned (value = ±mantissa × 10^exp10 unless `truncated`).
@usableFromInline
struct NumberLiteral {
    var start: Int             // offset of the literal ('-' or first digit)
    var end: Int               // offset just past it
    var negative: Bool
    var mantissa: UInt64       // first 19 significant digits
    var exp10: Int
    var truncated: Bool        // a non-zero digit beyond the 19th was dropped
    var isInteger: Bool        // no fraction, no exponent
    var integerDropped: Int    // integer digits beyond the 19th
    var lastIntegerDigit: UInt64
}

/// 10^-0 ... 10^-22, each the nearest Double (inexact from 10^-1 on). Literals, not computed, so the table is
/// static data rather than a lazily initialised global (whose access check showed in the ingest profile).
private let reciprocalPowersOfTen: [Double] = [
    1e-0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11,
    1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22,
]

/// 10^0 ... 10^8 as integers.
private let uint64PowersOfTen: [UInt64] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

/// 10^0 ... 10^10, all exactly representable as Float (5^10 < 2^24).
private let floatPowersOfTen: [Float] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10]

extension JSONScanner {
    /// Parses a number at `i` (p[i] is '-' followed by a digit, or a digit).
    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let literal = try scanNumber()
        let value = try doubleValue(literal)

        // Exact integer value.
        var magnitude: UInt64 = 0
        var flags: UInt8 = literal.negative ? JSONNumber.negativeFlag : 0
        if literal.isInteger {
            flags |= JSONNumber.integerFlag
            if literal.integerDropped == 0 {
                magnitude = literal.mantissa
                flags |= JSONNumber.exactFlag
            } else if literal.integerDropped == 1 {
                // 20 digits: may still fit in UInt64.
                let (m10, o1) = literal.mantissa.multipliedReportingOverflow(by: 10)
                let (m, o2) = m10.addingReportingOverflow(literal.lastIntegerDigit)
                if !o1 && !o2 {
                    magnitude = m
                    flags |= JSONNumber.exactFlag
                }
            }
        } else if value.rounded(.towardZero) == value && value.magnitude <= 0x1p64, let whole = wholeMagnitude(literal) {
            // Only literals whose nearest Double is whole are read again, so vector components rarely pay for it.
            magnitude = whole
            flags |= JSONNumber.wholeFlag
        }
        return JSONNumber(double: value, nearestFloat: floatValue(literal, nearestDouble: value),
                          magnitude: magnitude, flags: flags)
    }

    /// The exact value of a literal with a fraction or exponent when it is a whole number below 2^64, from its
    /// digits (never through `Double`): the digits left of the decimal point once the exponent has moved it form
    /// the number, and every digit right of it must be 0. The literal's grammar is already checked.
    func wholeMagnitude(_ literal: NumberLiteral) -> UInt64? {
        var k = literal.start
        if p[k] == UInt8(ascii: "-") { k += 1 }
        let intStart = k
        while k < literal.end && p[k] &- UInt8(ascii: "0") < 10 { k += 1 }
        let intEnd = k
        var fracStart = k, fracEnd = k
        if k < literal.end && p[k] == UInt8(ascii: ".") {
            k += 1
            fracStart = k
            while k < literal.end && p[k] &- UInt8(ascii: "0") < 10 { k += 1 }
            fracEnd = k
        }
        var exponent = 0
        if k < literal.end {  // 'e' or 'E'
            k += 1
            let negative = p[k] == UInt8(ascii: "-")
            if p[k] == UInt8(ascii: "-") || p[k] == UInt8(ascii: "+") { k += 1 }
            while k < literal.end {
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(p[k] &- UInt8(ascii: "0")) }
                k += 1
            }
            if negative { exponent = -exponent }
        }
        let digitCount = (intEnd - intStart) + (fracEnd - fracStart)
        let point = (intEnd - intStart) + exponent  // digits left of the decimal point
        var value: UInt64 = 0
        for index in 0..<digitCount {
            let at = index < intEnd - intStart ? intStart + index : fracStart + index - (intEnd - intStart)
            let digit = UInt64(p[at] &- UInt8(ascii: "0"))
            if index < point {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(digit)
                if o1 || o2 { return nil }
                value = sum
            } else if digit != 0 {
                return nil
            }
        }
        if value != 0 && point > digitCount {
            for _ in digitCount..<point {
                let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                value = times10
            }
        }
        return value
    }

    /// Checks the grammar of the number at `i` and collects its digits; leaves `i` after it.
    @inline(__always)
    mutating func scanNumber() throws(JSONParseError) -> NumberLiteral {
        let start = i
        var negative = false
        if p[i] == UInt8(ascii: "-") { negative = true; i += 1 }

        var mantissa: UInt64 = 0   // first 19 significant digits
        var digits = 0             // significant digits in `mantissa`
        var exp10 = 0              // value = mantissa * 10^exp10 (when nothing was truncated)
        var truncated = false
        var isInteger = true
        var lastIntegerDigit: UInt64 = 0

        // Integer part.
        if p[i] == UInt8(ascii: "0") {
            i += 1
            if i < n && p[i] &- UInt8(ascii: "0") < 10 {
                throw JSONParseError(offset: start, message: "leading zeros are not allowed in numbers")
            }
        } else {
            // Up to eight digits per step while they fit in the 19-digit mantissa.
            while digits <= 11, let (chunk, count) = leadingDigits(at: i) {
                mantissa = mantissa &* uint64PowersOfTen[count] &+ chunk
                digits += count
                i += count
                lastIntegerDigit = UInt64(p[i - 1] &- UInt8(ascii: "0"))
                if count < 8 { break }
            }
            while i < n {
                let d = p[i] &- UInt8(ascii: "0")
                if d >= 10 { break }
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    digits += 1
                } else {
                    exp10 += 1
                    if d != 0 { truncated = true }
                }
                lastIntegerDigit = UInt64(d)
                i += 1
            }
        }
        let integerDropped = exp10

        // Fraction.
        if i < n && p[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < n, p[i] &- UInt8(ascii: "0") < 10 else {
                throw JSONParseError(offset: i, message: "expected a digit after the decimal point")
            }
            // Up to eight digits per step while they fit (digits may overcount leading zeros of "0.000…": that
            // only makes the mantissa give up early, and strtod then handles the literal).
            while digits <= 11, let (chunk, count) = leadingDigits(at: i) {
                mantissa = mantissa &* uint64PowersOfTen[count] &+ chunk
                if mantissa != 0 { digits += count }
                exp10 -= count
                i += count
                if count < 8 { break }
            }
            while i < n {
                let d = p[i] &- UInt8(ascii: "0")
                if d >= 10 { break }
                if digits < 19 {
                    if mantissa == 0 && d == 0 {
                        exp10 -= 1  // leading zero of the fraction: not significant
                    } else {
                        mantissa = mantissa &* 10 &+ UInt64(d)
                        digits += 1
                        exp10 -= 1
                    }
                } else if d != 0 {
                    truncated = true
                }
                i += 1
            }
        }

        // Exponent.
        if i < n && (p[i] | 0x20) == UInt8(ascii: "e") {
            isInteger = false
            i += 1
            var expNegative = false
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) {
                expNegative = p[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < n, p[i] &- UInt8(ascii: "0") < 10 else {
                throw JSONParseError(offset: i, message: "expected a digit in the exponent")
            }
            var e = 0
            while i < n {
                let d = p[i] &- UInt8(ascii: "0")
                if d >= 10 { break }
                if e < 1_000_000_000 { e = e * 10 + Int(d) }  // saturate: far beyond any representable value
                i += 1
            }
            exp10 += expNegative ? -e : e
        }
        return NumberLiteral(start: start, end: i, negative: negative, mantissa: mantissa, exp10: exp10,
                             truncated: truncated, isInteger: isInteger, integerDropped: integerDropped,
                             lastIntegerDigit: lastIntegerDigit)
    }

    /// The nearest Double to the literal (correctly rounded); throws when it overflows Double.
    @inline(__always)
    func doubleValue(_ literal: NumberLiteral) throws(JSONParseError) -> Double {
        let mantissa = literal.mantissa, exp10 = literal.exp10
        var value: Double
        if mantissa == 0 {
            value = 0
        } else if !literal.truncated && mantissa <= (UInt64(1) << 53) && exp10 >= -22 && exp10 <= 22 {
            value = Double(mantissa)
            if exp10 < 0 { value /= powersOfTen[-exp10] } else { value *= powersOfTen[exp10] }
        } else {
            value = Self.slowDouble(mantissa: mantissa, exp10: exp10, truncated: literal.truncated) ?? {
                // Fall back on strtod over the literal's digits.
                strtodLiteral(from: literal.start, to: literal.end)
            }()
            if !value.isFinite {
                throw JSONParseError(offset: literal.start, message: "number out of range", kind: .numberOutOfRange)
            }
        }
        return literal.negative ? -value : value
    }

    /// The nearest Float to the literal (correctly rounded; ±infinity when it overflows Float), given the nearest
    /// Double to it. Rounding the Double again to Float is right unless the Double sits exactly on a Float
    /// rounding midpoint (the literal may lie just off it, on either side) or is below Float's normal range:
    /// those rare cases ask strtof.
    @inline(__always)
    func floatValue(_ literal: NumberLiteral, nearestDouble d: Double) -> Float {
        let m = literal.mantissa, e = literal.exp10
        if !literal.truncated && m <= (UInt64(1) << 24) && e >= -10 && e <= 10 {
            // Both operands exact in Float: one correctly rounded operation.
            var f = Float(m)
            if e < 0 { f /= floatPowersOfTen[-e] } else { f *= floatPowersOfTen[e] }
            return literal.negative ? -f : f
        }
        let onMidpoint = d.bitPattern & 0x1FFF_FFFF == 0x1000_0000
        let belowNormal = d != 0 && d.magnitude < Double(Float.leastNormalMagnitude)
        if onMidpoint || belowNormal {
            let f = strtofLiteral(from: literal.start, to: literal.end)
            return literal.negative ? -f : f
        }
        return Float(d)
    }

    /// The nearest Float to the number at `i` (see `floatValue`), for arrays of vector components.
    ///
    /// Fast path without a division: for mantissa <= 2^53 and |exp10| <= 22, `Double(mantissa) × 10^exp10` with
    /// 10^exp10 a Double constant (its reciprocal when exp10 < 0) is within 2 units in the last place of the
    /// exact value. Rounding that to Float gives the correctly rounded Float unless a Float rounding midpoint lies
    /// within those 2 units: the low 29 bits of the Double (the ones a Float drops) are then near 0x1000_0000,
    /// and the exact path decides. Subnormal Floats take the exact path too.
    @inline(__always)
    mutating func parseFloat() throws(JSONParseError) -> Float {
        let literal = try scanNumber()
        let m = literal.mantissa, e = literal.exp10
        if !literal.truncated && m <= (UInt64(1) << 53) && e >= -22 && e <= 22 {
            let approx = Double(m) * (e < 0 ? reciprocalPowersOfTen[-e] : powersOfTen[e])
            if let f = Self.float(fromCloseDouble: approx, mantissa: m, negative: literal.negative) { return f }
        }
        return floatValue(literal, nearestDouble: try doubleValue(literal))
    }

    /// `approx` rounded to Float when it is within a few units in the last place of the literal's exact value
    /// (±mantissa × 10^exp10) and that is provably the correctly rounded Float: no Float rounding midpoint lies
    /// near it (the low 29 bits of the Double, the ones a Float drops, are not near 0x1000_0000) and the result
    /// is not subnormal. nil: the caller takes the exact path.
    @inline(__always)
    static func float(fromCloseDouble approx: Double, mantissa: UInt64, negative: Bool) -> Float? {
        let dropped = Int(approx.bitPattern & 0x1FFF_FFFF)
        guard (dropped - 0x1000_0000).magnitude > 8 && (mantissa == 0 || approx >= Double(Float.leastNormalMagnitude)) else {
            return nil
        }
        let f = Float(approx)
        return negative ? -f : f
    }

    /// The nearest Float to a plain decimal literal at `i` — `[-]digits[.digits]`, at most 7 integer digits and
    /// 19 digits in all, no exponent, at least eight bytes after each run of digits — read eight digits per load
    /// with no per-digit loop; leaves `i` after it. nil, with `i` unchanged, for any other literal (including
    /// every malformed one): `parseFloat` then reads it under the full grammar. This is the shape clients print
    /// vector components in ("%.6f", or 17 significant digits for a float32 printed as a double), so it is the
    /// hot loop of every write.
    ///
    /// The conversion has no division: `Double(mantissa) × 10^-d` (the reciprocal a Double constant) is within
    /// 3 units in the last place of the exact value (three roundings of at most half a unit, relative), so unless
    /// a Float rounding midpoint lies that close — the low 29 bits of the Double, the ones a Float drops, near
    /// 0x1000_0000 — rounding it to Float is correctly rounded. Near a midpoint, and for subnormal results,
    /// nil sends the literal to the exact path.
    @inline(__always)
    mutating func plainDecimalFloat() -> Float? {
        var k = i
        let negative = p[k] == UInt8(ascii: "-")
        if negative { k += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        if p[k] == UInt8(ascii: "0") {
            k += 1
        } else {
            guard let (chunk, count) = leadingDigits(at: k), count < 8 else { return nil }
            mantissa = chunk
            digits = count
            k += count
        }
        var exp10 = 0
        if k < n && p[k] == UInt8(ascii: ".") {
            k += 1
            guard k < n, p[k] &- UInt8(ascii: "0") < 10 else { return nil }
            while true {
                // leadingDigits needs eight readable bytes; a literal that close to the end goes the slow way.
                guard let (chunk, count) = leadingDigits(at: k), digits + count <= 19 else { return nil }
                mantissa = mantissa &* uint64PowersOfTen[count] &+ chunk
                digits += count
                exp10 -= count
                k += count
                if count < 8 { break }
                // Eight digits may end the input: never read p[n] (found by Fuzz/json).
                if k == n || p[k] &- UInt8(ascii: "0") >= 10 { break }
            }
        }
        // An exponent, a digit (after a leading zero) or the end of input: not this shape.
        guard k < n, (p[k] | 0x20) != UInt8(ascii: "e"), p[k] &- UInt8(ascii: "0") >= 10 else { return nil }
        // Through Int64: one conversion instruction, where UInt64 needs a correction sequence for the top bit.
        guard mantissa < UInt64(1) << 63 else { return nil }
        let approx = Double(Int64(bitPattern: mantissa)) * reciprocalPowersOfTen[-exp10]
        guard let f = Self.float(fromCloseDouble: approx, mantissa: mantissa, negative: negative) else { return nil }
        i = k
        return f
    }

    /// The value and count (1...8) of the run of up to eight digits at `k` when at least eight bytes remain
    /// (one 8-byte load, no loop); nil when no digit starts there or fewer than eight bytes remain (the
    /// caller's byte loop takes over).
    @inline(__always)
    func leadingDigits(at k: Int) -> (UInt64, Int)? {
        guard n - k >= 8 else { return nil }
        let raw = UInt64(littleEndian: UnsafeRawPointer(p + k).loadUnaligned(as: UInt64.self))
        // High bit of each byte that is not in '0'...'9': byte+0x46 or byte-0x30 sets it. Carries and borrows only
        // start at a non-digit byte and run upwards, so the bytes below the first non-digit are exact.
        let nonDigit = ((raw &+ 0x4646_4646_4646_4646) | (raw &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080
        let count = nonDigit.trailingZeroBitCount >> 3  // digits before the first non-digit byte (8: none)
        guard count > 0 else { return nil }
        // Keep the `count` digit bytes and move them to the top: the bytes below read as leading zeros.
        var v = (raw &- 0x3030_3030_3030_3030) << UInt64(64 - 8 * count)
        v = (v &* 10) &+ (v >> 8)  // pairs of digits, then quadruples, then all eight (SWAR)
        v = (((v & 0x0000_00FF_0000_00FF) &* (100 &+ (1_000_000 << 32)))
            &+ (((v >> 16) & 0x0000_00FF_0000_00FF) &* (1 &+ (10_000 << 32)))) >> 32
        return (v, count)
    }

    /// Correctly rounded `mantissa * 10^exp10` without strtod when possible, else nil.
    @inline(__always)
    static func slowDouble(mantissa: UInt64, exp10: Int, truncated: Bool) -> Double? {
        #if (arch(i386) || arch(x86_64)) && !os(Windows) && !os(Android)
        guard !truncated && exp10 >= -27 && exp10 <= 27 else { return nil }
        let m = Float80(mantissa)  // exact: 64-bit significand
        let r = exp10 < 0 ? m / powersOfTen80[-exp10] : m * powersOfTen80[exp10]
        // r is correctly rounded to 64 bits; rounding it again to 53 bits is exact unless r sits exactly on a
        // Double midpoint (low 11 of the 63 fraction bits == 0b100_0000_0000). Results here are normal doubles.
        if r.significandBitPattern & 0x7FF == 0x400 { return nil }
        return Double(r)
        #else
        return nil
        #endif
    }

    /// strtod of the literal bytes [from, to), without the sign; returns the magnitude.
    func strtodLiteral(from: Int, to: Int) -> Double {
        withLiteralCString(from: from, to: to) { strtod($0, nil) }
    }

    /// strtof (correctly rounded in glibc) of the literal bytes [from, to), without the sign; the magnitude.
    func strtofLiteral(from: Int, to: Int) -> Float {
        withLiteralCString(from: from, to: to) { strtof($0, nil) }
    }

    /// Calls `body` with a NUL-terminated copy of the literal [from, to) minus its sign.
    private func withLiteralCString<T>(from: Int, to: Int, _ body: (UnsafePointer<CChar>) -> T) -> T {
        var s = from
        if p[s] == UInt8(ascii: "-") { s += 1 }
        let len = to - s
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: len + 1) { buf -> T in
            let b = buf.baseAddress!
            UnsafeMutableRawPointer(b).copyMemory(from: p + s, byteCount: len)
            b[len] = 0
            return body(b)
        }
    }
}

/// A JSON number, keeping both its nearest `Double` and, for integer literals, its exact integer value.
///
/// Integer literals (no fraction, no exponent) are parsed exactly, never through `Double`:
/// `uint64` is set when the value is in `0...UInt64.max`, `int64` when it is in `Int64.min...Int64.max`.
/// `-0` is the integer 0 (both `uint64` and `int64` are 0; `double` is `-0.0`).
/// A literal with a fraction or an exponent whose value is a whole number (`1.0`, `1e3`, `2.50e1`) keeps that
/// whole number exactly too, read from its digits: `wholeUInt64` and `wholeInt64` give it (JSON Schema calls such a
/// number an integer), while `isInteger`, `uint64` and `int64` still describe how the literal was written.
///
/// Equality is by numeric value: when both numbers carry an exact integer they compare exactly,
/// otherwise they compare as `Double`s, so `1 == 1.0 == 1e0` and `0 == -0`.
/// (As with any mix of exact and rounded values this is not perfectly transitive for integers
/// beyond 2^53, which the API never relies on.)
public struct JSONNumber: Sendable, CustomStringConvertible {
    /// The nearest `Double` to the literal (always finite: literals beyond the `Double` range are rejected).
    public let double: Double
    /// The nearest `Float` to the literal, correctly rounded from the literal itself (not from `double`, which
    /// could round twice); ±infinity when it overflows `Float`.
    @usableFromInline let nearestFloat: Float
    @usableFromInline let magnitude: UInt64  // |value| when flags has .exact
    @usableFromInline let flags: UInt8

    @usableFromInline static var integerFlag: UInt8 { 1 }
    @usableFromInline static var exactFlag: UInt8 { 2 }
    @usableFromInline static var negativeFlag: UInt8 { 4 }
    /// Written with a fraction or exponent, but a whole number: `magnitude` holds it exactly.
    @usableFromInline static var wholeFlag: UInt8 { 8 }

    @inlinable
    init(double: Double, nearestFloat: Float, magnitude: UInt64, flags: UInt8) {
        self.double = double
        self.nearestFloat = nearestFloat
        self.magnitude = magnitude
        self.flags = flags
    }

    @inlinable
    init(double: Double, magnitude: UInt64, flags: UInt8) {
        self.init(double: double, nearestFloat: Float(double), magnitude: magnitude, flags: flags)
    }

    /// An exact unsigned integer.
    @inlinable
    public init(_ value: UInt64) {
        self.init(double: Double(value), magnitude: value, flags: JSONNumber.integerFlag | JSONNumber.exactFlag)
    }

    /// An exact signed integer.
    @inlinable
    public init(_ value: Int64) {
        self.init(double: Double(value), magnitude: value.magnitude,
                  flags: JSONNumber.integerFlag | JSONNumber.exactFlag | (value < 0 ? JSONNumber.negativeFlag : 0))
    }

    /// An exact signed integer.
    @inlinable
    public init(_ value: Int) { self.init(Int64(value)) }

    /// A non-integer number (`isInteger` is false even when `value` is integral).
    /// `value` must be finite: `JSONWriter` refuses to write NaN or infinities.
    @inlinable
    public init(_ value: Double) {
        self.init(double: value, magnitude: 0, flags: 0)
    }

    /// The literal had no fraction and no exponent.
    @inlinable public var isInteger: Bool { flags & JSONNumber.integerFlag != 0 }

    /// The exact value, when the literal is an integer in `0...UInt64.max`.
    @inlinable
    public var uint64: UInt64? {
        guard flags & JSONNumber.exactFlag != 0 else { return nil }
        if flags & JSONNumber.negativeFlag != 0 && magnitude != 0 { return nil }
        return magnitude
    }

    /// The exact value, when the literal is an integer in `Int64.min...Int64.max`.
    @inlinable
    public var int64: Int64? {
        guard flags & JSONNumber.exactFlag != 0 else { return nil }
        return JSONNumber.signed(magnitude, negative: flags & JSONNumber.negativeFlag != 0)
    }

    /// The value is a whole number, however it is written (`7`, `7.0`, `0.7e1`). Magnitudes of 2^64 and more
    /// count as whole whatever their digits: no integer the API reads goes that far, so they are all out of range.
    @inlinable
    public var isWhole: Bool {
        flags & (JSONNumber.integerFlag | JSONNumber.wholeFlag) != 0 || double.magnitude >= 0x1p64
    }

    /// The exact value when it is a whole number in `0...UInt64.max`, however it is written (`7`, `7.0`, `0.7e1`).
    @inlinable
    public var wholeUInt64: UInt64? {
        guard flags & (JSONNumber.exactFlag | JSONNumber.wholeFlag) != 0 else { return nil }
        if flags & JSONNumber.negativeFlag != 0 && magnitude != 0 { return nil }
        return magnitude
    }

    /// The exact value when it is a whole number in `Int64.min...Int64.max`, however it is written.
    @inlinable
    public var wholeInt64: Int64? {
        guard flags & (JSONNumber.exactFlag | JSONNumber.wholeFlag) != 0 else { return nil }
        return JSONNumber.signed(magnitude, negative: flags & JSONNumber.negativeFlag != 0)
    }

    @inlinable
    static func signed(_ magnitude: UInt64, negative: Bool) -> Int64? {
        if negative {
            guard magnitude <= UInt64(1) << 63 else { return nil }
            return Int64(bitPattern: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// The value as a `Float` (nearest to the literal), or `nil` when it overflows `Float`
    /// (|x| > Float.greatestFiniteMagnitude after rounding).
    @inlinable
    public var float: Float? {
        nearestFloat.isFinite ? nearestFloat : nil
    }

    public var description: String {
        if let u = uint64 { return String(u) }
        if let i = int64 { return String(i) }
        return double.description
    }
}

extension JSONNumber: Equatable {
    @inlinable
    public static func == (a: JSONNumber, b: JSONNumber) -> Bool {
        if a.flags & JSONNumber.exactFlag != 0 && b.flags & JSONNumber.exactFlag != 0 {
            if a.magnitude != b.magnitude { return false }
            return a.magnitude == 0 || (a.flags & JSONNumber.negativeFlag) == (b.flags & JSONNumber.negativeFlag)
        }
        return a.double == b.double
    }
}

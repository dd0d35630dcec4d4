/// What a presented key allows.
public enum AccessGrant: Sendable, Equatable {
    /// Every route (`--api-key`).
    case full
    /// Reads only (`--read-only-api-key`).
    case readOnly
}

/// The API keys lynxd runs with. A key is never printed: `description` says only which keys are set.
public struct AccessKeys: Sendable, CustomStringConvertible {
    private let full: [UInt8]
    private let readOnly: [UInt8]?

    public init(full: String, readOnly: String?) {
        self.full = Array(full.utf8)
        self.readOnly = readOnly.map { Array($0.utf8) }
    }

    /// What `presented` allows; nil when it is neither key. Both keys are always compared, each in constant time.
    func grant(for presented: Substring) -> AccessGrant? {
        let bytes = Array(presented.utf8)
        let isFull = ConstantTime.equal(bytes, full)
        let isReadOnly = readOnly.map { ConstantTime.equal(bytes, $0) } ?? false
        return isFull ? .full : (isReadOnly ? .readOnly : nil)
    }

    public var hasReadOnlyKey: Bool { readOnly != nil }

    public var description: String { "api_key=set read_only_api_key=\(hasReadOnlyKey ? "set" : "unset")" }
}

/// Comparison of secrets whose time does not depend on their contents.
enum ConstantTime {
    /// Whether `presented` equals `expected`. Every byte of `expected` is compared, with a byte of `presented`
    /// (0 past its end), by XOR folded into one accumulator with no early exit; the lengths are compared as
    /// numbers. The time depends only on `expected.count` (fixed for the process), so a guess's time tells
    /// nothing about how much of it was right. (A length-independent loop rather than digests: no hash
    /// function is at hand below Foundation, and this needs none.)
    static func equal(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: presented.count ^ expected.count)
        presented.withUnsafeBufferPointer { p in
            expected.withUnsafeBufferPointer { e in
                for i in 0..<e.count {
                    let byte = i < p.count ? p[i] : 0
                    difference |= UInt(byte ^ e[i])
                }
            }
        }
        return difference == 0
    }
}

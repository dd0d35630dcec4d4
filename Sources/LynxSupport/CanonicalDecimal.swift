extension UInt64 {
    /// `text` as an unsigned decimal spelled the one way a value has: digits only (no sign, no spaces), no leading
    /// zero, within 0 ... 2^64−1; nil otherwise. The rule of ids in paths and of numbers in query strings.
    @inlinable
    public init?<S: StringProtocol>(canonicalDecimal text: S) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), text == "0" || text.first != "0",
              let n = UInt64(text) else { return nil }
        self = n
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-mixed seeded generator. The one source of
/// reproducible randomness in the index layer (k-means seeding and sampling, HNSW levels) and in tests.
/// A value type: copying it copies the stream position (HNSW plans draw from a copy and store it back).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in 0..<n (n > 0); Lemire's multiply-shift, bias < n / 2^64.
    public mutating func below(_ n: Int) -> Int { Int(next().multipliedFullWidth(by: UInt64(n)).high) }
}

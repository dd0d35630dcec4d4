import LynxJSON
import XCTest

/// SplitMix64: a small seeded generator so random tests are reproducible.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func parse(_ s: String, maxDepth: Int = 64) throws -> JSONValue {
    try JSONParser.parse(Array(s.utf8), maxDepth: maxDepth)
}

func parseError(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

func num(_ n: JSONValue) -> JSONNumber? { n.numberValue }

func obj(_ members: [(String, JSONValue)]) -> JSONValue {
    .object(JSONObject(members: members.map { (key: $0.0, value: $0.1) }))
}

func written(_ build: (inout JSONWriter) -> Void) -> String {
    var w = JSONWriter()
    build(&w)
    return String(decoding: w.bytes, as: UTF8.self)
}

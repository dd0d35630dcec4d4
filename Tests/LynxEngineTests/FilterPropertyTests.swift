import LynxEngine
import LynxIndex
import LynxJSON
import XCTest

/// `Filter.matches` against a reference evaluator written here from docs/FILTERS.md over raw JSON values, on
/// random metadata and random filters (seeded). Both sides start from the same JSON text: the engine's side reads
/// it as stored metadata does (`Metadata(json:)`), the reference parses it with `JSONParser` and compares numbers
/// as exact fixed-point `Int128`s (every double the generator writes is a multiple of 2^-16 below 2^100), strings
/// by their UTF-8 bytes (the generator's strings are NFC, where that is the order the docs promise).
final class FilterPropertyTests: XCTestCase {
    // MARK: - The reference

    indirect enum Reference {
        case and([Reference])
        case or([Reference])
        case not(Reference)
        /// `operand` is a scalar, an array of scalars (`$in`, `$nin`) or a boolean (`$exists`).
        case condition(path: [String], op: String, operand: JSONValue)
    }

    static func matches(_ filter: Reference, _ document: JSONValue?) -> Bool {
        switch filter {
        case .and(let parts): return parts.allSatisfy { matches($0, document) }
        case .or(let parts): return parts.contains { matches($0, document) }
        case .not(let inner): return !matches(inner, document)
        case .condition(let path, let op, let operand):
            var value = document
            for name in path { value = value?.objectValue?[name] }
            return holds(op, operand, value)
        }
    }

    static func holds(_ op: String, _ operand: JSONValue, _ value: JSONValue?) -> Bool {
        switch op {
        case "$exists": return (value != nil) == operand.boolValue!
        case "$ne": return !holds("$eq", operand, value)
        case "$nin": return !holds("$in", operand, value)
        default: break
        }
        guard let value else { return false }
        let candidates = value.arrayValue ?? [value]
        return candidates.contains { candidate in
            switch op {
            case "$eq": return same(candidate, operand)
            case "$in": return operand.arrayValue!.contains { same(candidate, $0) }
            case "$gt": return order(candidate, operand).map { $0 > 0 } ?? false
            case "$gte": return order(candidate, operand).map { $0 >= 0 } ?? false
            case "$lt": return order(candidate, operand).map { $0 < 0 } ?? false
            case "$lte": return order(candidate, operand).map { $0 <= 0 } ?? false
            default: preconditionFailure(op)
            }
        }
    }

    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return Array(x.utf8) == Array(y.utf8)
        case (.number(let x), .number(let y)): return exact(x) == exact(y)
        default: return false
        }
    }

    static func order(_ a: JSONValue, _ b: JSONValue) -> Int? {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let (u, v) = (Array(x.utf8), Array(y.utf8))
            return u == v ? 0 : (u.lexicographicallyPrecedes(v) ? -1 : 1)
        case (.number(let x), .number(let y)):
            let (u, v) = (exact(x), exact(y))
            return u == v ? 0 : (u < v ? -1 : 1)
        default: return nil
        }
    }

    /// The number ×2^16, exactly: an integer literal in Int64's range as itself, any other number as its
    /// nearest double (docs/FILTERS.md).
    static func exact(_ n: JSONNumber) -> Int128 {
        if n.isInteger, let i = n.int64 { return Int128(i) << 16 }
        return Int128(exactly: n.double * 65536)!
    }

    // MARK: - The generator

    static let numbers = [
        "0", "1", "-1", "2", "3", "-3", "1.0", "0.5", "-2.25", "2.5", "1e2", "100", "-0.0",
        "9007199254740992", "9007199254740993", "-9007199254740993", "9007199254740992.0",
        "9223372036854775807", "9223372036854775806", "-9223372036854775808", "9.223372036854775807e18",
        "9223372036854775808", "18446744073709551615", "18446744073709551614",
    ]
    static let strings = [#""""#, #""a""#, #""b""#, #""ab""#, #""B""#, #""é""#, #""z""#, #""1""#]
    static let others = ["true", "false", "null"]
    static let keys = ["a", "b", "c", "tags", "n"]
    static let paths: [[String]] = [["a"], ["b"], ["c"], ["tags"], ["n"], ["n", "x"], ["n", "y"], ["missing"], ["a", "x"]]
    static let operators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]

    static func scalar(_ r: inout SplitMix64) -> String {
        switch r.below(10) {
        case 0..<5: return r.pick(numbers)
        case 5..<8: return r.pick(strings)
        default: return r.pick(others)
        }
    }

    static func value(_ r: inout SplitMix64, depth: Int) -> String {
        switch r.below(10) {
        case 0..<6: return scalar(&r)
        case 6..<8:
            let elements = (0..<r.below(4)).map { _ in depth > 0 && r.chance(15) ? value(&r, depth: depth - 1) : scalar(&r) }
            return "[" + elements.joined(separator: ",") + "]"
        default:
            guard depth > 0 else { return scalar(&r) }
            return object(&r, keys: ["x", "y"], depth: depth - 1)
        }
    }

    static func object(_ r: inout SplitMix64, keys: [String], depth: Int) -> String {
        let members = keys.filter { _ in r.chance(70) }.map { "\"\($0)\":\(value(&r, depth: depth))" }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func operand(_ op: String, _ r: inout SplitMix64) -> String {
        switch op {
        case "$exists": return r.chance(50) ? "true" : "false"
        case "$in", "$nin": return "[" + (0..<r.below(4)).map { _ in scalar(&r) }.joined(separator: ",") + "]"
        case "$gt", "$gte", "$lt", "$lte": return r.chance(70) ? r.pick(numbers) : r.pick(strings)
        default: return scalar(&r)
        }
    }

    /// A random filter, as the reference and as the engine's `Filter` (its operands typed as stored metadata is).
    static func filter(_ r: inout SplitMix64, depth: Int) throws -> (Reference, Filter) {
        if depth > 0 && r.chance(40) {
            switch r.below(3) {
            case 0, 1:
                let parts = try (0..<r.below(4)).map { _ in try filter(&r, depth: depth - 1) }
                return r.chance(50)
                    ? (.and(parts.map(\.0)), .and(parts.map(\.1)))
                    : (.or(parts.map(\.0)), .or(parts.map(\.1)))
            default:
                let (reference, typed) = try filter(&r, depth: depth - 1)
                return (.not(reference), .not(typed))
            }
        }
        let path = r.pick(paths)
        let op = r.pick(operators)
        let text = operand(op, &r)
        let raw = try JSONParser.parse(Array(text.utf8))
        let typed = try Metadata(json: Array("{\"v\":\(text)}".utf8)).document.value(at: FieldPath(["v"]))!
        let condition: Condition
        switch (op, typed) {
        case ("$eq", _): condition = .eq(typed)
        case ("$ne", _): condition = .ne(typed)
        case ("$gt", _): condition = .gt(typed)
        case ("$gte", _): condition = .gte(typed)
        case ("$lt", _): condition = .lt(typed)
        case ("$lte", _): condition = .lte(typed)
        case ("$in", .array(let items)): condition = .in(Set(items))
        case ("$nin", .array(let items)): condition = .nin(Set(items))
        case ("$exists", .bool(let wanted)): condition = .exists(wanted)
        default: preconditionFailure("\(op) \(text)")
        }
        return (.condition(path: path, op: op, operand: raw), .condition(FieldPath(path), condition))
    }

    // MARK: - The properties

    func testTheEvaluatorAgreesWithTheReference() throws {
        var r = SplitMix64(seed: 12)
        var documents: [(text: String?, raw: JSONValue?, typed: FieldValue?)] = []
        for _ in 0..<64 {
            if r.chance(5) { documents.append((nil, nil, nil)); continue }  // a record without metadata
            let text = Self.object(&r, keys: Self.keys, depth: 2)
            documents.append((text, try JSONParser.parse(Array(text.utf8)), try Metadata(json: Array(text.utf8)).document))
        }
        var cases = 0, matched = 0
        for _ in 0..<5000 {
            let (reference, typed) = try Self.filter(&r, depth: 3)
            for _ in 0..<8 {
                let document = r.pick(documents)
                let want = Self.matches(reference, document.raw)
                cases += 1
                if want { matched += 1 }
                if typed.matches(document.typed) != want {
                    XCTFail("\(typed) on \(document.text ?? "no metadata"): expected \(want)")
                    return
                }
            }
        }
        // Neither side may be trivially constant.
        XCTAssertGreaterThan(matched, cases / 10)
        XCTAssertLessThan(matched, cases * 9 / 10)
    }

    /// `$in`/`$nin` over a set answer as a scan of the member list with `FieldValue`'s equality does (the
    /// evaluator before sets), on random members and values: numbers of both kinds that are equal across them
    /// (1, 1.0, 1e0; 2^53 as an integer and as a double; -0.0 and 0), strings, booleans, null, arrays.
    func testSetMembershipAgreesWithALinearScan() throws {
        let texts = Self.numbers + Self.strings + Self.others + ["1e0", "0", "0.0", "-0", "9007199254740992e0", "-2.250"]
        let values = try texts.map { text in
            try Metadata(json: Array("{\"v\":\(text)}".utf8)).document.value(at: FieldPath(["v"]))!
        }
        // Equal values hash alike: a set relies on it.
        for a in values { for b in values where a == b { XCTAssertEqual(a.hashValue, b.hashValue, "\(a) == \(b)") } }
        func linear(_ members: [FieldValue], _ value: FieldValue?) -> Bool {
            guard let value else { return false }
            if case .array(let elements) = value { return elements.contains { members.contains($0) } }
            return members.contains(value)
        }
        var r = SplitMix64(seed: 19)
        var hits = 0
        for _ in 0..<20_000 {
            let members = (0..<r.below(6)).map { _ in r.pick(values) }
            let value: FieldValue? = switch r.below(10) {
            case 0: nil
            case 1, 2: .array((0..<r.below(4)).map { _ in r.pick(values) })
            default: r.pick(values)
            }
            let document = value.map { FieldValue.object([(key: "v", value: $0)]) }
            let expected = linear(members, value)
            if expected { hits += 1 }
            let path = FieldPath(["v"])
            XCTAssertEqual(Filter.condition(path, .in(Set(members))).matches(document), expected, "\(value.map { "\($0)" } ?? "missing") in \(members)")
            XCTAssertEqual(Filter.condition(path, .nin(Set(members))).matches(document), !expected, "\(value.map { "\($0)" } ?? "missing") nin \(members)")
        }
        XCTAssertGreaterThan(hits, 2_000)
        XCTAssertLessThan(hits, 18_000)
    }

    /// The cases the docs call out, by name, so a failure says which rule broke.
    func testTheDocumentedEdges() throws {
        func check(_ document: String, _ filter: Filter, _ expected: Bool, line: UInt = #line) throws {
            let typed = try Metadata(json: Array(document.utf8)).document
            XCTAssertEqual(filter.matches(typed), expected, "\(filter) on \(document)", line: line)
        }
        func cond(_ path: String, _ condition: Condition) -> Filter { .condition(FieldPath(dotted: path), condition) }
        // Integers above 2^53 that differ by one, as integers and against a double.
        try check(#"{"a":9007199254740993}"#, cond("a", .gt(.int(9_007_199_254_740_992))), true)
        try check(#"{"a":9007199254740993}"#, cond("a", .eq(.int(9_007_199_254_740_992))), false)
        try check(#"{"a":9007199254740993}"#, cond("a", .gt(.double(9_007_199_254_740_992))), true)
        try check(#"{"a":9007199254740992}"#, cond("a", .eq(.double(9_007_199_254_740_992))), true)
        try check(#"{"a":9223372036854775807}"#, cond("a", .lt(.double(9_223_372_036_854_775_808))), true)
        // Beyond Int64 a number is its nearest double: 2^64 - 1 and 2^64 - 2 are one value.
        try check(#"{"a":18446744073709551615}"#, cond("a", .eq(.double(0x1p64))), true)
        // 1 == 1.0 == 1e0; 1 is not "1" nor true.
        try check(#"{"a":1}"#, cond("a", .eq(.double(1))), true)
        try check(#"{"a":1e0}"#, cond("a", .eq(.int(1))), true)
        try check(#"{"a":"1"}"#, cond("a", .eq(.int(1))), false)
        try check(#"{"a":true}"#, cond("a", .eq(.int(1))), false)
        try check(#"{"a":true}"#, cond("a", .gt(.int(0))), false)
        // Arrays: one element is enough; $ne / $nin are the negations.
        try check(#"{"t":["x","y"]}"#, cond("t", .eq(.string("y"))), true)
        try check(#"{"t":["x","y"]}"#, cond("t", .ne(.string("y"))), false)
        try check(#"{"t":[1,9]}"#, cond("t", .gt(.int(5))), true)
        try check(#"{"t":[[1]]}"#, cond("t", .eq(.int(1))), false)
        try check(#"{"t":[]}"#, cond("t", .nin([.int(1)])), true)
        // Missing paths and null.
        try check(#"{"n":{"x":1}}"#, cond("n.x", .eq(.int(1))), true)
        try check(#"{"n":1}"#, cond("n.x", .exists(false)), true)
        try check(#"{"a":null}"#, cond("a", .exists(true)), true)
        try check(#"{"a":null}"#, cond("a", .eq(.null)), true)
        try check(#"{}"#, cond("a", .eq(.null)), false)
        try check(#"{}"#, cond("a", .ne(.null)), true)
        XCTAssertTrue(cond("a", .ne(.int(1))).matches(nil))
        XCTAssertFalse(cond("a", .eq(.int(1))).matches(nil))
        // Strings order by Unicode scalars: "z" < "é".
        try check(#"{"s":"z"}"#, cond("s", .lt(.string("é"))), true)
    }
}

extension SplitMix64 {
    fileprivate mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    fileprivate mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

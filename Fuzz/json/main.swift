// libFuzzer target: the JSON reader (LynxJSON). Built and run by scripts/fuzz.sh.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
// - a document JSONParser accepts, written back by JSONWriter, parses again to an equal value;
// - JSONReader's float path (`floatArray`, the hot loop of every write) gives, for a top-level array of numbers,
//   exactly the Floats the tree gives (the fast decoder and the tree decoder agree);
// - a whole number's exact value (`wholeUInt64`) agrees with its Double wherever the Double is exact (below 2^53).
import LynxJSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    guard let tree = try? JSONParser.parse(bytes, maxDepth: 64) else {
        // The pull reader must fail or succeed without crashing on what the tree parser refused.
        _ = try? JSONReader.read(bytes) { (r: inout JSONReader) throws(JSONParseError) -> Bool in
            var floats: [Float] = []
            let ok = try r.floatArray(into: &floats)
            if ok { try r.end() }
            return ok
        }
        return 0
    }
    var writer = JSONWriter()
    writer.write(tree)
    guard let again = try? JSONParser.parse(writer.bytes, maxDepth: 64), again == tree else {
        fatalError("written back, the document does not parse to the same value: \(String(decoding: writer.bytes, as: UTF8.self))")
    }
    checkNumbers(tree)
    if case .array(let items) = tree, items.allSatisfy({ if case .number = $0 { return true } else { return false } }) {
        let expected = items.map { item -> Float? in if case .number(let n) = item { return n.float } else { return nil } }
        var floats: [Float] = []
        let ok = (try? JSONReader.read(bytes) { (r: inout JSONReader) throws(JSONParseError) -> Bool in
            let ok = try r.floatArray(into: &floats)
            if ok { try r.end() }
            return ok
        }) ?? false
        if expected.allSatisfy({ $0 != nil }) {
            guard ok, floats.map(\.bitPattern) == expected.map({ $0!.bitPattern }) else {
                fatalError("floatArray read \(floats), the tree \(expected)")
            }
        } else if ok {
            fatalError("floatArray accepted a number that overflows Float")
        }
    }
    return 0
}

private func checkNumbers(_ value: JSONValue) {
    switch value {
    case .number(let n):
        if let w = n.wholeUInt64, w < 1 << 53, n.double.magnitude != Double(w) {
            fatalError("whole value \(w) disagrees with the double \(n.double)")
        }
        if n.isInteger, n.uint64 != nil, n.wholeUInt64 != n.uint64 { fatalError("wholeUInt64 differs from uint64 for \(n)") }
    case .array(let items): items.forEach(checkNumbers)
    case .object(let object): object.members.forEach { checkNumbers($0.value) }
    default: break
    }
}

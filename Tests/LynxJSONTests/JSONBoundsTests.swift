import Glibc
import LynxJSON
import XCTest

/// The scanners never read past the end of their input. Each input is placed at the very end of a readable page
/// followed by an unreadable one, so a read of one byte too many crashes the test on the normal build (the
/// fuzzer's AddressSanitizer found them first; the inputs are kept in Fuzz/corpus/json/regression-*).
final class JSONBoundsTests: XCTestCase {
    private func atEndOfPage<T>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = Array(text.utf8)
        precondition(bytes.count <= page)
        guard let map = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), map != MAP_FAILED else {
            throw XCTSkip("mmap failed")
        }
        defer { munmap(map, 2 * page) }
        XCTAssertEqual(mprotect(map + page, page, PROT_NONE), 0)
        let start = map.assumingMemoryBound(to: UInt8.self) + page - bytes.count
        bytes.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: bytes.count) }
        return try body(UnsafeBufferPointer(start: start, count: bytes.count))
    }

    private func floats(_ text: String) throws -> [Float]? {
        try atEndOfPage(text) { buffer in
            try? JSONReader.read(buffer) { (r: inout JSONReader) throws(JSONParseError) -> [Float]? in
                var out: [Float] = []
                return try r.floatArray(into: &out) ? out : nil
            }
        }
    }

    /// `[770.22077770`: eight fraction digits that end the input (plainDecimalFloat read the byte after them).
    func testEightFractionDigitsAtTheEnd() throws {
        XCTAssertNil(try floats("[770.22077770"))
        XCTAssertNil(try floats("[1.12345678"))
        XCTAssertNil(try floats("[1."))
        XCTAssertNil(try floats("[1.5, 2."))
        XCTAssertEqual(try floats("[770.22077770]"), [Float(770.22077770)])
    }

    func testTruncatedDocumentsAtTheEnd() throws {
        for text in ["[12345678", "[-0.12345678", "[0.1234567812345678", "{\"a\":1.12345678", "[1e", "[1.0e+", "\"abc", "[tru"] {
            _ = try atEndOfPage(text) { buffer in try? JSONParser.parse(UnsafeRawBufferPointer(buffer)) }
            _ = try floats(text)
        }
    }
}

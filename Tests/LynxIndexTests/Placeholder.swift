import XCTest
final class LynxIndexTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }

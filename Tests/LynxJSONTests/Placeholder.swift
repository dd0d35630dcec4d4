import XCTest
final class LynxJSONTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }

import XCTest
final class LynxEngineTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }

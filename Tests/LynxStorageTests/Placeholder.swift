import XCTest
final class LynxStorageTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }

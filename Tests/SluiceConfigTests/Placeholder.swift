import XCTest
final class PlaceholderConfig: XCTestCase { func testNothing() {} }

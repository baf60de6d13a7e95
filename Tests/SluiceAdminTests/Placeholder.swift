import XCTest
final class PlaceholderAdmin: XCTestCase { func testNothing() {} }

import XCTest
final class PlaceholderSluiceIOTests: XCTestCase { func testNothing() {} }

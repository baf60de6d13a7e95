import XCTest
final class PlaceholderPostgresWireTests: XCTestCase { func testNothing() {} }

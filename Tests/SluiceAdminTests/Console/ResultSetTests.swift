// ResultSetTests: decimal formatting, timestamps and second splits used by the console.
@testable import SluiceAdmin
import XCTest

final class ResultSetTests: XCTestCase {
    func testFormatDecimal() {
        XCTAssertEqual(formatDecimal(12), "12")
        XCTAssertEqual(formatDecimal(0.5), "0.5")
        XCTAssertEqual(formatDecimal(1.2346), "1.235")
        XCTAssertEqual(formatDecimal(-0.25), "-0.25")
        XCTAssertEqual(formatDecimal(.nan), "0")
    }

    func testTimestampAndSplit() {
        XCTAssertEqual(formatTimestamp(1_714_564_800.9), "2024-05-01 12:00:00 UTC")
        XCTAssertNil(formatTimestamp(0))
        XCTAssertEqual(splitSeconds(3.000_25).seconds, 3)
        XCTAssertEqual(splitSeconds(3.000_25).microseconds, 250)
        XCTAssertEqual(socketPointer(255), "0xff")
    }
}

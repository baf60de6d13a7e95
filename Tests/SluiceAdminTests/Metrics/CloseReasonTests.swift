// CloseReasonTests: raw close reasons become bounded label values.
@testable import SluiceAdmin
import XCTest

final class CloseReasonTests: XCTestCase {
    func testLabels() {
        XCTAssertEqual(CloseReason.label("upstream_closed:57P01"), "upstream_closed")
        XCTAssertEqual(CloseReason.label("lifetime"), "lifetime")
        XCTAssertEqual(CloseReason.label("Bad Reason!"), "bad_reason_")
        XCTAssertEqual(CloseReason.label(""), "unknown")
        XCTAssertEqual(CloseReason.label(String(repeating: "x", count: 100)).count, 48)
    }
}

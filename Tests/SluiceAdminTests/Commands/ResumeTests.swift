// ResumeTests: RESUME [db] → tag RESUME and .resume; admin only; unknown database 3D000.
@testable import SluiceCore
import XCTest

final class ResumeTests: XCTestCase {
    func testResume() throws {
        try assertAction("RESUME", tag: "RESUME", action: .resume(nil))
        try assertAction("  resume   reports  ", tag: "RESUME", action: .resume("reports"))
    }

    func testRefusals() throws {
        try assertRefused("RESUME app", privilege: .stats, code: "42501")
        try assertRefused("RESUME nosuchdb", code: "3D000")
    }
}

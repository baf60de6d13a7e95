// ShutdownTests: SHUTDOWN → tag SHUTDOWN and .shutdown; admin only.
@testable import SluiceCore
import XCTest

final class ShutdownTests: XCTestCase {
    func testShutdown() throws {
        try assertAction("SHUTDOWN;", tag: "SHUTDOWN", action: .shutdown)
    }

    func testStatsUserIsRefused() throws {
        try assertRefused("SHUTDOWN", privilege: .stats, code: "42501")
    }
}

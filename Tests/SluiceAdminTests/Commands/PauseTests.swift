// PauseTests: PAUSE [db] → tag PAUSE and .pause; admin only; unknown database 3D000.
@testable import SluiceCore
import XCTest

final class PauseTests: XCTestCase {
    func testPauseAllAndOne() throws {
        try assertAction("PAUSE", tag: "PAUSE", action: .pause(nil))
        try assertAction("pause app;", tag: "PAUSE", action: .pause("app"))
        try assertAction("PAUSE \"app\"", tag: "PAUSE", action: .pause("app"))
    }

    func testStatsUserIsRefused() throws {
        try assertRefused("PAUSE", privilege: .stats, code: "42501",
                          message: "admin console command \"PAUSE\" requires admin privilege (user not in admin_users)")
    }

    func testUnknownDatabase() throws {
        try assertRefused("PAUSE nosuchdb", code: "3D000", message: "no such database: nosuchdb")
    }

    func testAdminDatabaseAndExtraArguments() throws {
        try assertRefused("PAUSE sluice", code: "0A000")
        try assertRefused("PAUSE app reports", code: "42601")
    }
}

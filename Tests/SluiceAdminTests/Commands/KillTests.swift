// KillTests: KILL db → tag KILL and .kill; the database is required and must exist.
@testable import SluiceCore
import XCTest

final class KillTests: XCTestCase {
    func testKill() throws {
        try assertAction("KILL app", tag: "KILL", action: .kill("app"))
    }

    func testRefusals() throws {
        try assertRefused("KILL app", privilege: .stats, code: "42501",
                          message: "admin console command \"KILL\" requires admin privilege (user not in admin_users)")
        try assertRefused("KILL", code: "42601")
        try assertRefused("KILL nosuchdb", code: "3D000", message: "no such database: nosuchdb")
        try assertRefused("KILL pgbouncer", code: "0A000")
    }
}

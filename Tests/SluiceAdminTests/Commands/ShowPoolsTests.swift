// ShowPoolsTests: SHOW POOLS columns (PgBouncer 1.18 order, Sluice extras last), types and counts.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowPoolsTests: XCTestCase {
    func testColumnsAreThoseOfPgBouncerThenSluiceExtras() throws {
        let table = try AdminConsoleHandler().table("SHOW POOLS")
        XCTAssertEqual(table.columnNames, [
            "database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req",
            "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
            "maxwait", "maxwait_us", "pool_mode", "cl_idle", "cl_idle_in_transaction", "pool_size",
        ])
        XCTAssertEqual(table.typeOID("database"), OID.text)
        XCTAssertEqual(table.typeOID("pool_mode"), OID.text)
        for name in table.columnNames where !["database", "user", "pool_mode"].contains(name) {
            XCTAssertEqual(table.typeOID(name), OID.int4, name)
        }
    }

    func testRowValues() throws {
        let pools = [
            Fixtures.pool("app", user: "app_owner", clients: (active: 4, waiting: 3, idle: 7, idleInTransaction: 2, login: 1),
                          servers: (active: 6, idle: 1, used: 2, tested: 0, login: 1), maxWait: 2.5, poolSize: 10),
            Fixtures.pool("reports", user: "reader", mode: .session),
        ]
        let table = try AdminConsoleHandler().table("show pools", snapshot: Fixtures.snapshot(pools: pools))
        XCTAssertEqual(table.values("database"), ["app", "reports"])
        let app = try XCTUnwrap(table.row("app"))
        XCTAssertEqual(app["user"], "app_owner")
        XCTAssertEqual(app["cl_active"], "6", "linked clients: active + idle in transaction")
        XCTAssertEqual(app["cl_waiting"], "3")
        XCTAssertEqual(app["cl_active_cancel_req"], "0")
        XCTAssertEqual(app["sv_active"], "6")
        XCTAssertEqual(app["sv_idle"], "1")
        XCTAssertEqual(app["sv_used"], "2")
        XCTAssertEqual(app["sv_login"], "1")
        XCTAssertEqual(app["maxwait"], "2")
        XCTAssertEqual(app["maxwait_us"], "500000")
        XCTAssertEqual(app["pool_mode"], "transaction")
        XCTAssertEqual(app["cl_idle"], "7")
        XCTAssertEqual(app["cl_idle_in_transaction"], "2")
        XCTAssertEqual(app["pool_size"], "10")
        XCTAssertEqual(table.row("reports")?["pool_mode"], "session")
    }

    func testArgumentsAreRefused() throws {
        let error = try AdminConsoleHandler().error("SHOW POOLS app")
        XCTAssertEqual(error?.code, "42601")
    }
}

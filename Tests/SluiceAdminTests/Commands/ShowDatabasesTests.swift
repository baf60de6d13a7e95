// ShowDatabasesTests: SHOW DATABASES rows for configured databases and the admin console databases.
@testable import SluiceCore
import SluiceAdmin
import SluiceConfig
import XCTest

final class ShowDatabasesTests: XCTestCase {
    func testColumnsTypesAndRows() throws {
        var config = Fixtures.config()
        config.listen = [ListenAddress(host: "127.0.0.1", port: 6432)]
        let pools = [
            Fixtures.pool("app", user: "app_owner", servers: (active: 3, idle: 2, used: 0, tested: 0, login: 1), paused: true),
            Fixtures.pool("reports", user: "reader"),
        ]
        let table = try AdminConsoleHandler().table("SHOW DATABASES", snapshot: Fixtures.snapshot(pools: pools, config: config))
        XCTAssertEqual(table.columnNames, [
            "name", "host", "port", "database", "force_user", "pool_size", "min_pool_size", "reserve_pool",
            "pool_mode", "max_connections", "current_connections", "paused", "disabled",
        ])
        for name in ["name", "host", "database", "force_user", "pool_mode"] { XCTAssertEqual(table.typeOID(name), OID.text, name) }
        for name in ["port", "pool_size", "min_pool_size", "reserve_pool", "max_connections", "current_connections",
                     "paused", "disabled"] {
            XCTAssertEqual(table.typeOID(name), OID.int4, name)
        }
        XCTAssertEqual(table.values("name"), ["app", "pgbouncer", "reports", "sluice"])
        XCTAssertEqual(table.row("app").map { row in table.columnNames.map { row[$0]! } },
                       ["app", "ep-cool-123.neon.tech", "5432", "appdb", "app_owner", "10", "2", "0", nil, "0", "6", "1", "0"])
        XCTAssertEqual(table.row("reports").map { row in table.columnNames.map { row[$0]! } },
                       ["reports", "10.0.0.5", "5433", "reader", "reader", "20", "0", "0", "session", "0", "0", "0", "0"])
        XCTAssertEqual(table.row("sluice").map { row in table.columnNames.map { row[$0]! } },
                       ["sluice", nil, "6432", "sluice", "sluice", "0", "0", "0", "statement", "0", "0", "0", "0"])
        XCTAssertNotNil(table.row("pgbouncer"))
    }

    func testNoPasswordAppears() throws {
        let handler = AdminConsoleHandler()
        let reply = handler.execute(query: "SHOW DATABASES", privilege: .stats, snapshot: Fixtures.snapshot())
        XCTAssertFalse(String(decoding: reply.bytes, as: UTF8.self).contains("secret"))
    }
}

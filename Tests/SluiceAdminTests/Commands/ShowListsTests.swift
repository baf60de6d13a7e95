// ShowListsTests: SHOW LISTS has PgBouncer's twelve rows with Sluice's counts.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowListsTests: XCTestCase {
    func testRows() throws {
        let clients = [Fixtures.client(1), Fixtures.client(2, state: "login"), Fixtures.client(3, state: "active", server: 5)]
        let servers = [Fixtures.server(5, state: "active", client: 3), Fixtures.server(6)]
        let table = try AdminConsoleHandler().table("SHOW LISTS", snapshot: Fixtures.snapshot(clients: clients, servers: servers))
        XCTAssertEqual(table.columnNames, ["list", "items"])
        XCTAssertEqual(table.typeOID("list"), OID.text)
        XCTAssertEqual(table.typeOID("items"), OID.int4)
        XCTAssertEqual(table.values("list"), [
            "databases", "users", "pools", "free_clients", "used_clients", "login_clients",
            "free_servers", "used_servers", "dns_names", "dns_zones", "dns_queries", "dns_pending",
        ])
        XCTAssertEqual(table.values("items"), ["4", "2", "2", "0", "3", "1", "0", "2", "0", "0", "0", "0"])
    }
}

// ShowServersTests: SHOW SERVERS rows: backend pid, link to the client, its hold time and tx state.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowServersTests: XCTestCase {
    func testRows() throws {
        let clients = [Fixtures.client(7, state: "idle_in_transaction", server: 9, held: 42.5, transactionStatus: "T")]
        var standby = Fixtures.server(8, state: "idle")
        standby.address = "replica.internal"
        standby.port = 5433
        standby.role = "standby"
        var primary = Fixtures.server(9, state: "active", client: 7, pid: 31337)
        primary.role = "primary"
        let servers = [primary, standby]
        let table = try AdminConsoleHandler().table("SHOW SERVERS",
                                                   snapshot: Fixtures.snapshot(clients: clients, servers: servers))
        XCTAssertEqual(table.columnNames, socketColumns + ["role"])
        XCTAssertEqual(table.values("ptr"), ["0x8", "0x9"])
        let linked = Dictionary(uniqueKeysWithValues: zip(table.columnNames, table.rows[1]))
        XCTAssertEqual(linked["type"], "S")
        XCTAssertEqual(linked["state"], "active")
        XCTAssertEqual(linked["addr"], "ep-cool-123.neon.tech")
        XCTAssertEqual(linked["port"], "5432")
        XCTAssertEqual(linked["local_addr"], .some(nil))
        XCTAssertEqual(linked["link"], "0x7")
        XCTAssertEqual(linked["remote_pid"], "31337")
        XCTAssertEqual(linked["tls"], "TLSv1.3")
        XCTAssertEqual(linked["application_name"], "web")
        XCTAssertEqual(linked["held_for_s"], "42.5")
        XCTAssertEqual(linked["tx_state"], "T")
        let idle = Dictionary(uniqueKeysWithValues: zip(table.columnNames, table.rows[0]))
        XCTAssertEqual(idle["link"], "")
        XCTAssertEqual(idle["held_for_s"], .some(nil))
        XCTAssertEqual(linked["role"], "primary")
        XCTAssertEqual(idle["role"], "standby")
        XCTAssertEqual(idle["addr"], "replica.internal", "the host the connection reached")
        XCTAssertEqual(idle["port"], "5433")
    }
}

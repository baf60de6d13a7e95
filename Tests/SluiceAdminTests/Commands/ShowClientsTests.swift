// ShowClientsTests: SHOW CLIENTS columns (PgBouncer 1.18's socket set + held_for_s, tx_state, last_query, pinned) and values.
@testable import SluiceCore
import SluiceAdmin
import SluiceConfig
import XCTest

/// PgBouncer 1.18's `SHOW CLIENTS` / `SHOW SERVERS` columns, then Sluice's two.
let socketColumns = [
    "type", "user", "database", "state", "addr", "port", "local_addr", "local_port", "connect_time", "request_time",
    "wait", "wait_us", "close_needed", "ptr", "link", "remote_pid", "tls", "application_name", "held_for_s", "tx_state",
]

final class ShowClientsTests: XCTestCase {
    func testColumnsAndTypes() throws {
        let table = try AdminConsoleHandler().table("SHOW CLIENTS")
        XCTAssertEqual(table.columnNames, socketColumns + ["last_query", "pinned"])
        let int4 = ["port", "local_port", "wait", "wait_us", "close_needed", "remote_pid"]
        for name in table.columnNames {
            let expected = int4.contains(name) ? OID.int4 : name == "held_for_s" ? OID.numeric : OID.text
            XCTAssertEqual(table.typeOID(name), expected, name)
        }
    }

    func testRows() throws {
        var config = Fixtures.config()
        config.listen = [ListenAddress(host: "0.0.0.0", port: 6432)]
        var pinned = Fixtures.client(2, state: "active", application: "worker", server: 0x1f, held: 1.25, transactionStatus: "T")
        pinned.pinned = "temp_table,advisory_lock"
        let clients = [pinned, Fixtures.client(1, state: "waiting", wait: 1.5)]
        let table = try AdminConsoleHandler().table("SHOW CLIENTS", snapshot: Fixtures.snapshot(clients: clients, config: config))
        XCTAssertEqual(table.rows.count, 2)
        XCTAssertEqual(table.values("ptr"), ["0x1", "0x2"], "in connection order")
        let waiting = Dictionary(uniqueKeysWithValues: zip(table.columnNames, table.rows[0]))
        XCTAssertEqual(waiting["type"], "C")
        XCTAssertEqual(waiting["user"], "app_owner")
        XCTAssertEqual(waiting["database"], "app")
        XCTAssertEqual(waiting["state"], "waiting")
        XCTAssertEqual(waiting["addr"], "10.1.2.3")
        XCTAssertEqual(waiting["port"], "40001")
        XCTAssertEqual(waiting["local_addr"], "0.0.0.0")
        XCTAssertEqual(waiting["local_port"], "6432")
        XCTAssertEqual(waiting["connect_time"], "2024-05-01 11:58:20 UTC")
        XCTAssertEqual(waiting["request_time"], "2024-05-01 11:59:59 UTC")
        XCTAssertEqual(waiting["wait"], "1")
        XCTAssertEqual(waiting["wait_us"], "500000")
        XCTAssertEqual(waiting["link"], "")
        XCTAssertEqual(waiting["remote_pid"], "0")
        XCTAssertEqual(waiting["tls"], "")
        XCTAssertEqual(waiting["held_for_s"], .some(nil))
        XCTAssertEqual(waiting["tx_state"], .some(nil))
        let active = Dictionary(uniqueKeysWithValues: zip(table.columnNames, table.rows[1]))
        XCTAssertEqual(active["link"], "0x1f")
        XCTAssertEqual(active["application_name"], "worker")
        XCTAssertEqual(active["held_for_s"], "1.25")
        XCTAssertEqual(active["tx_state"], "T")
        XCTAssertEqual(active["last_query"], "", "log_leak_queries is off")
        XCTAssertEqual(active["pinned"], "temp_table,advisory_lock")
        XCTAssertEqual(waiting["pinned"], "")
    }

    func testLastQueryOnlyWithLogLeakQueries() throws {
        var config = Fixtures.config()
        let clients = [Fixtures.client(1, state: "idle_in_transaction", server: 0x2, held: 3, transactionStatus: "T",
                                       lastQuery: "UPDATE accounts SET balance = 0")]
        let hidden = try AdminConsoleHandler().table("SHOW CLIENTS", snapshot: Fixtures.snapshot(clients: clients, config: config))
        XCTAssertEqual(hidden.values("last_query"), [""])
        config.logLeakQueries = true
        let shown = try AdminConsoleHandler().table("SHOW CLIENTS", snapshot: Fixtures.snapshot(clients: clients, config: config))
        XCTAssertEqual(shown.values("last_query"), ["UPDATE accounts SET balance = 0"])
    }
}

// ShowLeaksTests: SHOW LEAKS lists clients held past leak_detection_threshold; last_query only when enabled.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowLeaksTests: XCTestCase {
    let clients = [
        Fixtures.client(1, state: "idle_in_transaction", application: "cron", server: 10, held: 45,
                        transactionStatus: "T", lastQuery: "BEGIN; UPDATE jobs SET"),
        Fixtures.client(2, state: "active", server: 11, held: 5, transactionStatus: "I"),
        Fixtures.client(3, state: "active", application: "report", server: 12, held: 90.5, transactionStatus: "E"),
    ]

    func testSuspectsLongestHoldFirst() throws {
        let table = try AdminConsoleHandler().table("SHOW LEAKS", snapshot: Fixtures.snapshot(clients: clients))
        XCTAssertEqual(table.columnNames, ["database", "user", "addr", "port", "application_name", "held_for_s",
                                           "tx_state", "state", "last_query"])
        XCTAssertEqual(table.typeOID("port"), OID.int4)
        XCTAssertEqual(table.typeOID("held_for_s"), OID.numeric)
        XCTAssertEqual(table.rows, [
            ["app", "app_owner", "10.1.2.3", "40003", "report", "90.5", "E", "active", ""],
            ["app", "app_owner", "10.1.2.3", "40001", "cron", "45", "T", "idle_in_transaction", ""],
        ])
    }

    func testLastQueryWithLogLeakQueries() throws {
        var config = Fixtures.config()
        config.logLeakQueries = true
        let table = try AdminConsoleHandler().table("SHOW LEAKS", snapshot: Fixtures.snapshot(clients: clients, config: config))
        XCTAssertEqual(table.values("last_query"), ["", "BEGIN; UPDATE jobs SET"])
    }

    func testNoSuspectsWhenDetectionIsOff() throws {
        var config = Fixtures.config()
        config.leakDetectionThreshold = 0
        let table = try AdminConsoleHandler().table("SHOW LEAKS", snapshot: Fixtures.snapshot(clients: clients, config: config))
        XCTAssertTrue(table.rows.isEmpty)
    }
}

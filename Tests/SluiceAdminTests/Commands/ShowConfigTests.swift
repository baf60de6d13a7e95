// ShowConfigTests: SHOW CONFIG lists every [sluice] key with value, default and changeable.
@testable import SluiceConfig
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowConfigTests: XCTestCase {
    func testEveryKeyOnceSortedWithValueDefaultAndChangeable() throws {
        var config = Fixtures.config()
        config.maxClientConn = 200
        config.adminListen = ListenAddress(host: "127.0.0.1", port: 9187)
        config.queryWaitTimeout = 2.5
        let table = try AdminConsoleHandler().table("SHOW CONFIG", snapshot: Fixtures.snapshot(config: config))
        XCTAssertEqual(table.columnNames, ["key", "value", "default", "changeable"])
        for name in table.columnNames { XCTAssertEqual(table.typeOID(name), OID.text) }
        let keys = table.values("key").compactMap { $0 }
        XCTAssertEqual(keys, SluiceConfig.keys.map(\.name).sorted(), "one row per SluiceConfig.keys entry")

        XCTAssertEqual(table.row("max_client_conn")?["value"], "200")
        XCTAssertEqual(table.row("max_client_conn")?["default"], "5000")
        XCTAssertEqual(table.row("max_client_conn")?["changeable"], "yes")
        XCTAssertEqual(table.row("listen")?["value"], "127.0.0.1:6432")
        XCTAssertEqual(table.row("listen")?["changeable"], "no")
        XCTAssertEqual(table.row("admin_listen")?["value"], "127.0.0.1:9187")
        XCTAssertEqual(table.row("admin_listen")?["default"], "")
        XCTAssertEqual(table.row("query_wait_timeout")?["value"], "2.5")
        XCTAssertEqual(table.row("query_wait_timeout")?["default"], "120")
        XCTAssertEqual(table.row("admin_users")?["value"], "admin")
        XCTAssertEqual(table.row("log_leak_queries")?["value"], "false")
        XCTAssertEqual(table.row("pool_mode")?["value"], "transaction")
        XCTAssertEqual(table.row("server_reset_query")?["default"], "DISCARD ALL")
        XCTAssertEqual(table.row("client_tls")?["value"], "", "unset: decided by whether a certificate is configured")
        XCTAssertEqual(table.row("client_tls_min_version")?["default"], "tlsv1.2")
    }
}

// TopSourceTests: console rows and /metrics pages turned into a TopFrame; admin_listen to a /metrics URL.

@testable import SluiceTools
import XCTest

final class TopSourceTests: XCTestCase {
    static let tables = TopSource.ConsoleTables(
        pools: [["database": "app", "user": "app", "cl_active": "2", "cl_waiting": "1", "cl_idle": "4",
                 "sv_active": "2", "sv_idle": "0", "sv_used": "1", "sv_tested": "0", "sv_login": "1",
                 "maxwait": "2", "maxwait_us": "500000", "pool_mode": "transaction", "pool_size": "3"]],
        clients: [
            ["database": "app", "user": "app", "addr": "10.0.0.1", "port": "5000", "link": "0x2", "held_for_s": "1.5",
             "tx_state": "T", "application_name": "short", "last_query": ""],
            ["database": "app", "user": "app", "addr": "10.0.0.2", "port": "5001", "link": "0x3", "held_for_s": "9.25",
             "tx_state": "I", "application_name": "long", "last_query": "SELECT 1"],
            ["database": "app", "user": "app", "addr": "10.0.0.3", "port": "5002", "link": "", "held_for_s": "",
             "application_name": "waiting"],
            ["database": "sluice", "user": "admin", "addr": "127.0.0.1", "port": "5003", "link": "", "held_for_s": "",
             "application_name": "sluice-top"],
        ],
        leaks: [["database": "app", "user": "app", "addr": "10.0.0.2", "port": "5001", "application_name": "long",
                 "held_for_s": "9.25", "tx_state": "I", "state": "active", "last_query": "SELECT 1"]],
        databases: [["name": "app", "host": "db.internal", "port": "5432"], ["name": "sluice", "host": "", "port": "6432"]])

    func testFrameFromConsoleAlone() {
        let frame = TopSource.frame(tables: Self.tables, metrics: nil, earlier: nil, endpoint: "h:1", clock: "c",
                                    leakThreshold: 5, metricsURL: nil, metricsProblem: nil)
        XCTAssertEqual(frame.pools, [TopFrame.Pool(database: "app", mode: "transaction", clientsActive: 2, clientsIdle: 4,
                                                   clientsWaiting: 1, maxWaitSeconds: 2.5, waitP99Seconds: nil,
                                                   serversActive: 2, serversIdle: 0, serversUsed: 1, serversTested: 0,
                                                   serversLogin: 1, poolSize: 3)])
        XCTAssertEqual(frame.holders.map(\.applicationName), ["long", "short"], "longest hold first, holders only")
        XCTAssertEqual(frame.holders[0].lastQuery, "SELECT 1")
        XCTAssertEqual(frame.holders[0].heldSeconds, 9.25)
        XCTAssertEqual(frame.leaks.map(\.address), ["10.0.0.2"])
        XCTAssertEqual(frame.upstreams, [TopFrame.Upstream(database: "app", address: "db.internal:5432", serversOpen: 3,
                                                           serversConnecting: 1)])
        XCTAssertNil(frame.limitRefusals)
    }

    func testFrameWithMetrics() throws {
        func page(waits: Int, slow: Int) -> PrometheusText {
            PrometheusText("""
                sluice_pool_wait_seconds_bucket{database="app",le="0.001"} \(waits)
                sluice_pool_wait_seconds_bucket{database="app",le="1"} \(waits + slow)
                sluice_pool_wait_seconds_bucket{database="app",le="+Inf"} \(waits + slow)
                sluice_pool_wait_seconds_count{database="app"} \(waits + slow)
                sluice_upstream_connect_seconds_bucket{database="app",le="0.01"} 3
                sluice_upstream_connect_seconds_bucket{database="app",le="+Inf"} 4
                sluice_upstream_connect_seconds_sum{database="app"} 2.02
                sluice_upstream_connect_seconds_count{database="app"} 4
                sluice_server_connect_failures_total{database="app"} 6
                sluice_queue_timeouts_total{database="app"} 1
                sluice_limit_refusals_total{limit="max_client_conn"} 2
                """)
        }
        let earlier = page(waits: 1000, slow: 0)
        let now = page(waits: 1000, slow: 100)
        let frame = TopSource.frame(tables: Self.tables, metrics: now, earlier: earlier, endpoint: "h:1", clock: "c",
                                    leakThreshold: nil, metricsURL: "http://x:1/metrics", metricsProblem: nil)
        // Only the window's 100 slow waits count, not the 1000 fast ones before it.
        XCTAssertGreaterThan(try XCTUnwrap(frame.pools[0].waitP99Seconds), 0.9)
        let cumulative = TopSource.frame(tables: Self.tables, metrics: now, earlier: nil, endpoint: "h:1", clock: "c",
                                         leakThreshold: nil, metricsURL: "http://x:1/metrics", metricsProblem: nil)
        XCTAssertLessThan(try XCTUnwrap(cumulative.pools[0].waitP99Seconds), 0.9)
        let upstream = frame.upstreams[0]
        XCTAssertEqual(try XCTUnwrap(upstream.connectMeanSeconds), 0.505, accuracy: 1e-9)
        XCTAssertEqual(upstream.connectP99Seconds, 0.01, "p99 in +Inf: the highest finite bound")
        XCTAssertEqual(upstream.connectFailures, 6)
        XCTAssertEqual(upstream.queueTimeouts, 1)
        XCTAssertEqual(frame.limitRefusals, 2)
    }

    func testMetricsURLFromAdminListen() {
        XCTAssertEqual(TopSource.metricsURL(adminListen: "127.0.0.1:9187", consoleHost: "10.0.0.1"), "http://127.0.0.1:9187/metrics")
        XCTAssertEqual(TopSource.metricsURL(adminListen: "0.0.0.0:9187", consoleHost: "10.0.0.1"), "http://10.0.0.1:9187/metrics")
        XCTAssertEqual(TopSource.metricsURL(adminListen: "*:9187", consoleHost: "/var/run/sluice"), "http://127.0.0.1:9187/metrics")
        XCTAssertEqual(TopSource.metricsURL(adminListen: "[::1]:9187", consoleHost: nil), "http://[::1]:9187/metrics")
        XCTAssertNil(TopSource.metricsURL(adminListen: "nonsense", consoleHost: nil))
    }
}

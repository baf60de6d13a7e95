// SluiceMetricsTests: render() gauges and counters from snapshots, parsed line by line.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class SluiceMetricsTests: XCTestCase {
    func snapshot(clients: [ClientSnapshot] = [], totals: RuntimeStats = RuntimeStats(),
                  appStats: PoolStats = PoolStats(), takenAt: Double = Fixtures.now) -> ProxySnapshot {
        let pools = [
            Fixtures.pool("app", user: "app_owner", stats: appStats,
                          clients: (active: 5, waiting: 3, idle: 12, idleInTransaction: 1, login: 2),
                          servers: (active: 6, idle: 2, used: 1, tested: 0, login: 1),
                          maxWait: 0.75, poolSize: 10, minPoolSize: 2, paused: true),
            Fixtures.pool("reports", user: "reader"),
        ]
        return Fixtures.snapshot(pools: pools, clients: clients, totals: totals, takenAt: takenAt)
    }

    func testGauges() {
        let clients = [
            Fixtures.client(1, application: "web", connectedAgo: 500),
            Fixtures.client(2, application: "web", connectedAgo: 20),
            Fixtures.client(3, application: "", connectedAgo: 10, held: 31, transactionStatus: "T"),
            Fixtures.client(4, database: "sluice", application: "psql", connectedAgo: 900, isAdmin: true),
        ]
        let exposition = Exposition(SluiceMetrics().render(snapshot(clients: clients)))
        XCTAssertEqual(exposition[#"sluice_clients{database="app",state="waiting",user="app_owner"}"#], 3)
        XCTAssertEqual(exposition[#"sluice_clients{database="app",state="active",user="app_owner"}"#], 5)
        XCTAssertEqual(exposition[#"sluice_clients{database="app",state="idle",user="app_owner"}"#], 12)
        XCTAssertEqual(exposition[#"sluice_clients{database="app",state="idle_in_transaction",user="app_owner"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_clients{database="app",state="login",user="app_owner"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_clients{database="reports",state="waiting",user="reader"}"#], 0)
        XCTAssertEqual(exposition[#"sluice_servers{database="app",state="active",user="app_owner"}"#], 6)
        XCTAssertEqual(exposition[#"sluice_servers{database="app",state="used",user="app_owner"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_servers{database="app",state="login",user="app_owner"}"#], 1)
        XCTAssertEqual(exposition.family("sluice_servers").count, 10)
        XCTAssertEqual(exposition[#"sluice_pool_size{database="app",user="app_owner"}"#], 10)
        XCTAssertEqual(exposition[#"sluice_pool_min_size{database="app",user="app_owner"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_pool_max_wait_seconds{database="app",user="app_owner"}"#], 0.75)
        XCTAssertEqual(exposition[#"sluice_pool_paused{database="app",user="app_owner"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_pool_paused{database="reports",user="reader"}"#], 0)
        XCTAssertEqual(exposition[#"sluice_leak_suspects{database="app"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_leak_suspects{database="reports"}"#], 0)
        XCTAssertEqual(exposition[#"sluice_oldest_client_age_seconds{database="app"}"#], 500, "admin sessions excluded")
        XCTAssertEqual(exposition[#"sluice_oldest_client_age_seconds{database="reports"}"#], 0)
        XCTAssertEqual(exposition[#"sluice_clients_by_application{application_name="web"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_clients_by_application{application_name="none"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_clients_by_application{application_name="psql"}"#], 1)
        XCTAssertEqual(exposition["sluice_up"], 1)
        XCTAssertEqual(exposition["sluice_max_client_conn"], 5000)
        XCTAssertEqual(exposition.types["sluice_clients"], "gauge")
        XCTAssertEqual(exposition.help["sluice_clients"], "Client connections by pool and state.")
    }

    func testCountersGrowByTheDeltaAndNeverDecrease() {
        let metrics = SluiceMetrics()
        var totals = RuntimeStats()
        totals.clientsAccepted = 10
        totals.authFailures = 1
        totals.clientCloses = ["client_close": 4]
        totals.serverCloses = ["upstream_closed:57P01": 2, "lifetime": 1]
        var stats = PoolStats()
        stats.transactions = 100
        stats.queries = 300
        stats.bytesReceived = 1000
        stats.queueTimeouts = 1
        let first = Exposition(metrics.render(snapshot(totals: totals, appStats: stats)))
        XCTAssertEqual(first[#"sluice_transactions_total{database="app"}"#], 100)
        XCTAssertEqual(first[#"sluice_transactions_total{database="reports"}"#], 0)
        XCTAssertEqual(first["sluice_queries_total"], 300)
        XCTAssertEqual(first["sluice_received_bytes_total"], 1000)
        XCTAssertEqual(first["sluice_client_connections_accepted_total"], 10)
        XCTAssertEqual(first["sluice_auth_failures_total"], 1)
        XCTAssertEqual(first[#"sluice_queue_timeouts_total{database="app"}"#], 1)
        XCTAssertEqual(first[#"sluice_client_connections_closed_total{reason="client_close"}"#], 4)
        XCTAssertEqual(first[#"sluice_server_connections_closed_total{reason="upstream_closed"}"#], 2)
        XCTAssertEqual(first[#"sluice_server_connections_closed_total{reason="lifetime"}"#], 1)
        XCTAssertEqual(first.types["sluice_queries_total"], "counter")

        totals.clientsAccepted = 15
        totals.serverCloses["upstream_closed:57P01"] = 3
        totals.serverCloses["upstream_closed:08006"] = 4
        stats.transactions = 130
        stats.queries = 200  // went backwards (pool recreated): no decrease
        let second = Exposition(metrics.render(snapshot(totals: totals, appStats: stats)))
        XCTAssertEqual(second[#"sluice_transactions_total{database="app"}"#], 130)
        XCTAssertEqual(second["sluice_queries_total"], 300)
        XCTAssertEqual(second["sluice_client_connections_accepted_total"], 15)
        XCTAssertEqual(second[#"sluice_server_connections_closed_total{reason="upstream_closed"}"#], 7)

        stats.queries = 260
        let third = Exposition(metrics.render(snapshot(totals: totals, appStats: stats)))
        XCTAssertEqual(third["sluice_queries_total"], 360, "counts again from the new value")
    }

    func testApplicationNamesAreCappedAtTwentyPlusOther() {
        var clients: [ClientSnapshot] = []
        var id: UInt64 = 0
        for app in 0..<25 {
            for _ in 0...(app < 5 ? 3 : 1) {
                id += 1
                clients.append(Fixtures.client(id, application: String(format: "app%02d", app)))
            }
        }
        let family = Exposition(SluiceMetrics().render(snapshot(clients: clients))).family("sluice_clients_by_application")
        XCTAssertEqual(family.count, 21)
        XCTAssertEqual(family[#"sluice_clients_by_application{application_name="app00"}"#], 4)
        XCTAssertEqual(family[#"sluice_clients_by_application{application_name="app05"}"#], 2)
        XCTAssertEqual(family[#"sluice_clients_by_application{application_name="app19"}"#], 2)
        XCTAssertNil(family[#"sluice_clients_by_application{application_name="app20"}"#])
        XCTAssertEqual(family[#"sluice_clients_by_application{application_name="other"}"#], 10)
        XCTAssertEqual(family.values.reduce(0, +), Double(clients.count))
    }

    func testStaleApplicationNamesDisappear() {
        let metrics = SluiceMetrics()
        _ = metrics.render(snapshot(clients: [Fixtures.client(1, application: "batch")]))
        let later = Exposition(metrics.render(snapshot(clients: [Fixtures.client(2, application: "web")])))
        XCTAssertNil(later[#"sluice_clients_by_application{application_name="batch"}"#])
        XCTAssertEqual(later[#"sluice_clients_by_application{application_name="web"}"#], 1)
    }

    func testLeakSuspectsTotalFollowsThePoolsCount() {
        // The core counts each suspect once per hold (PoolStats.leakSuspects), even between scrapes.
        let metrics = SluiceMetrics()
        let key = #"sluice_leak_suspects_total{database="app"}"#
        var stats = PoolStats()
        XCTAssertEqual(Exposition(metrics.render(snapshot(appStats: stats))).samples[key], 0)
        stats.leakSuspects = 2
        XCTAssertEqual(Exposition(metrics.render(snapshot(appStats: stats))).samples[key], 2)
        stats.leakSuspects = 5
        XCTAssertEqual(Exposition(metrics.render(snapshot(appStats: stats))).samples[key], 5)
        XCTAssertEqual(Exposition(metrics.render(snapshot(appStats: stats))).samples[key], 5)
    }

    func testPinsAndResetsByReason() {
        let metrics = SluiceMetrics()
        var stats = PoolStats()
        let first = Exposition(metrics.render(snapshot(appStats: stats)))
        XCTAssertEqual(first.family("sluice_client_pins_total").keys.filter { $0.contains(#"database="app""#) }.count,
                       SessionPins.allKinds.count, "every kind from 0")
        XCTAssertEqual(first[#"sluice_client_pins_total{database="app",reason="temp_table"}"#], 0)
        XCTAssertEqual(first[#"sluice_server_resets_total{database="app",reason="pinned_client_left"}"#], 0)
        stats.pins = ["temp_table": 2, "set_role": 1]
        stats.serverResets = ["pinned_client_left": 3]
        var pinned = Fixtures.client(1)
        pinned.pinned = "temp_table"
        let later = Exposition(metrics.render(snapshot(clients: [pinned, Fixtures.client(2)], appStats: stats)))
        XCTAssertEqual(later[#"sluice_client_pins_total{database="app",reason="temp_table"}"#], 2)
        XCTAssertEqual(later[#"sluice_client_pins_total{database="app",reason="set_role"}"#], 1)
        XCTAssertEqual(later[#"sluice_client_pins_total{database="app",reason="advisory_lock"}"#], 0)
        XCTAssertEqual(later[#"sluice_server_resets_total{database="app",reason="pinned_client_left"}"#], 3)
        XCTAssertEqual(later[#"sluice_clients_pinned{database="app"}"#], 1)
    }

    func testServersByHostAndHostsPassedOver() {
        var standby = Fixtures.server(1)
        standby.address = "replica-1"
        standby.role = "standby"
        var primary = Fixtures.server(2)
        primary.role = "primary"
        var second = Fixtures.server(3)
        second.address = "replica-1"
        second.role = "standby"
        var loggingIn = Fixtures.server(4)
        loggingIn.role = ""
        var stats = PoolStats()
        stats.hostsPassedOver = ["replica-1:5432 wrong_role": 4, "db-a:5432 unreachable": 1]
        var shot = snapshot(appStats: stats)
        shot.servers = [standby, primary, second, loggingIn]
        let exposition = Exposition(SluiceMetrics().render(shot))
        XCTAssertEqual(exposition[#"sluice_servers_by_host{database="app",host="replica-1:5432",role="standby"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_servers_by_host{database="app",host="ep-cool-123.neon.tech:5432",role="primary"}"#], 1)
        XCTAssertEqual(exposition.family("sluice_servers_by_host").count, 2, "a server still logging in has no role yet")
        XCTAssertEqual(exposition[#"sluice_upstream_hosts_passed_over_total{database="app",host="replica-1:5432",reason="wrong_role"}"#], 4)
        XCTAssertEqual(exposition[#"sluice_upstream_hosts_passed_over_total{database="app",host="db-a:5432",reason="unreachable"}"#], 1)
    }

    func testNotificationRelayNumbersPerDatabase() {
        let metrics = SluiceMetrics()
        var stats = PoolStats()
        stats.notificationsReceived = 10
        stats.notificationsDelivered = 37
        stats.notificationsDropped = 4
        stats.notifyQueueOverflows = 1
        stats.notifyListenerReconnects = 2
        var app = Fixtures.pool("app", user: "app_owner", stats: stats)
        app.notifyChannels = 3
        app.notifySubscribers = 12
        app.notifyListeners = 1
        var other = Fixtures.pool("app", user: "app_owner", stats: stats)  // another worker's pool of the database
        other.notifyChannels = 1
        let merged = ProxySnapshot.merged([Fixtures.snapshot(pools: [app]), Fixtures.snapshot(pools: [other])])
        let exposition = Exposition(metrics.render(merged))
        XCTAssertEqual(exposition[#"sluice_notify_channels{database="app"}"#], 4)
        XCTAssertEqual(exposition[#"sluice_notify_subscribers{database="app"}"#], 12)
        XCTAssertEqual(exposition[#"sluice_notify_listener_connections{database="app"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_notifications_received_total{database="app"}"#], 20)
        XCTAssertEqual(exposition[#"sluice_notifications_delivered_total{database="app"}"#], 74)
        XCTAssertEqual(exposition[#"sluice_notifications_dropped_total{database="app"}"#], 8)
        XCTAssertEqual(exposition[#"sluice_notify_queue_overflows_total{database="app"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_notify_listener_reconnects_total{database="app"}"#], 4)
        XCTAssertEqual(exposition.types["sluice_notify_channels"], "gauge")
        XCTAssertEqual(exposition.types["sluice_notifications_delivered_total"], "counter")
        // A database without the relay shows zeros, so that alerts see the first increase.
        let idle = Exposition(SluiceMetrics().render(Fixtures.snapshot(pools: [Fixtures.pool("reports", user: "reader")])))
        XCTAssertEqual(idle[#"sluice_notify_channels{database="reports"}"#], 0)
        XCTAssertEqual(idle[#"sluice_notifications_dropped_total{database="reports"}"#], 0)
    }
}

// Tests for ProxySnapshot.merged: what the console and /metrics show with `workers` > 1.
import XCTest
@testable import SluiceCore
@testable import SluiceAdmin

final class MergedSnapshotTests: XCTestCase {
    func testPoolsAreSummedClientsAndServersListedCountersAdded() {
        var statsA = PoolStats()
        statsA.transactions = 10
        statsA.bytesSent = 100
        var statsB = PoolStats()
        statsB.transactions = 5
        statsB.bytesSent = 50
        var totalsA = RuntimeStats()
        totalsA.clientLogins = 3
        totalsA.clientCloses = ["client_close": 2]
        var totalsB = RuntimeStats()
        totalsB.clientLogins = 4
        totalsB.clientCloses = ["client_close": 1, "killed": 1]
        let a = Fixtures.snapshot(
            pools: [Fixtures.pool("app", user: "app_owner", stats: statsA, clients: (1, 0, 2, 0, 0), servers: (1, 1, 0, 0, 0),
                                  maxWait: 0.5, poolSize: 5)],
            clients: [Fixtures.client(2), Fixtures.client(4)], servers: [Fixtures.server(6)], totals: totalsA)
        let b = Fixtures.snapshot(
            pools: [Fixtures.pool("app", user: "app_owner", stats: statsB, clients: (0, 1, 1, 0, 0), servers: (0, 2, 0, 0, 0),
                                  maxWait: 1.5, poolSize: 5, paused: true),
                    Fixtures.pool("reports", user: "reader", poolSize: 1)],
            clients: [Fixtures.client(1), Fixtures.client(3)], servers: [Fixtures.server(5)], totals: totalsB)
        let merged = ProxySnapshot.merged([a, b])
        XCTAssertEqual(merged.pools.map(\.database), ["app", "reports"])
        let app = merged.pools[0]
        XCTAssertEqual(app.poolSize, 10)
        XCTAssertEqual([app.clientsActive, app.clientsWaiting, app.clientsIdle], [1, 1, 3])
        XCTAssertEqual([app.serversActive, app.serversIdle], [1, 3])
        XCTAssertEqual(app.maxWaitSeconds, 1.5)
        XCTAssertTrue(app.paused)
        XCTAssertEqual(app.stats.transactions, 15)
        XCTAssertEqual(app.stats.bytesSent, 150)
        XCTAssertEqual(merged.clients.map(\.id), [1, 2, 3, 4])
        XCTAssertEqual(merged.servers.map(\.id), [5, 6])
        XCTAssertEqual(merged.totals.clientLogins, 7)
        XCTAssertEqual(merged.totals.clientCloses, ["client_close": 3, "killed": 1])

        // SHOW POOLS over the merged snapshot: one row per database.
        let reply = AdminConsoleHandler().execute(query: "SHOW POOLS", privilege: .admin, snapshot: merged)
        XCTAssertFalse(reply.bytes.isEmpty)
        XCTAssertEqual(ProxySnapshot.merged([a]).pools.count, 1, "one part is returned as is")
    }
}

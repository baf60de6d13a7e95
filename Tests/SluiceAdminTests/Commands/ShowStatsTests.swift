// ShowStatsTests: SHOW STATS totals from PoolStats and PgBouncer-style averages over the interval between calls.
@testable import SluiceCore
import SluiceAdmin
import XCTest

final class ShowStatsTests: XCTestCase {
    static let columns = [
        "database", "total_xact_count", "total_query_count", "total_received", "total_sent", "total_xact_time",
        "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
        "avg_xact_time", "avg_query_time", "avg_wait_time",
    ]

    func stats(transactions: UInt64, queries: UInt64, received: UInt64, sent: UInt64, transactionTime: UInt64,
               queryTime: UInt64, wait: UInt64) -> PoolStats {
        var stats = PoolStats()
        stats.transactions = transactions
        stats.queries = queries
        stats.bytesReceived = received
        stats.bytesSent = sent
        stats.transactionMicroseconds = transactionTime
        stats.queryMicroseconds = queryTime
        stats.waitMicroseconds = wait
        return stats
    }

    func testFirstCallHasTotalsAndZeroAverages() throws {
        let pool = Fixtures.pool("app", user: "app_owner", stats: stats(
            transactions: 100, queries: 250, received: 10_000, sent: 50_000, transactionTime: 2_000_000,
            queryTime: 1_500_000, wait: 30_000))
        let table = try AdminConsoleHandler().table("SHOW STATS", snapshot: Fixtures.snapshot(pools: [pool]))
        XCTAssertEqual(table.columnNames, Self.columns)
        XCTAssertEqual(table.typeOID("database"), OID.text)
        for name in Self.columns.dropFirst() { XCTAssertEqual(table.typeOID(name), OID.numeric, name) }
        XCTAssertEqual(table.rows, [["app", "100", "250", "10000", "50000", "2000000", "1500000", "30000",
                                     "0", "0", "0", "0", "0", "0", "0"]])
    }

    func testAveragesOverTheIntervalSinceThePreviousCall() throws {
        let handler = AdminConsoleHandler()
        let before = Fixtures.pool("app", user: "app_owner", stats: stats(
            transactions: 100, queries: 250, received: 10_000, sent: 50_000, transactionTime: 2_000_000,
            queryTime: 1_500_000, wait: 30_000))
        _ = try handler.table("SHOW STATS", snapshot: Fixtures.snapshot(pools: [before], takenAt: Fixtures.now))
        // 10 s later: +200 transactions, +400 queries, +20 000 / +80 000 bytes, +1 s transaction time,
        // +0.4 s query time, +50 ms waiting.
        let after = Fixtures.pool("app", user: "app_owner", stats: stats(
            transactions: 300, queries: 650, received: 30_000, sent: 130_000, transactionTime: 3_000_000,
            queryTime: 1_900_000, wait: 80_000))
        let table = try handler.table("SHOW STATS", snapshot: Fixtures.snapshot(pools: [after], takenAt: Fixtures.now + 10))
        let row = try XCTUnwrap(table.row("app"))
        XCTAssertEqual(row["total_xact_count"], "300")
        XCTAssertEqual(row["avg_xact_count"], "20", "transactions per second")
        XCTAssertEqual(row["avg_query_count"], "40", "queries per second")
        XCTAssertEqual(row["avg_recv"], "2000", "bytes per second")
        XCTAssertEqual(row["avg_sent"], "8000")
        XCTAssertEqual(row["avg_xact_time"], "5000", "µs per transaction")
        XCTAssertEqual(row["avg_query_time"], "1000", "µs per query")
        XCTAssertEqual(row["avg_wait_time"], "5000", "µs of waiting per second")
    }

    func testEachHandlerKeepsItsOwnHistory() throws {
        let pool = Fixtures.pool("app", user: "app_owner", stats: stats(
            transactions: 10, queries: 10, received: 0, sent: 0, transactionTime: 0, queryTime: 0, wait: 0))
        _ = try AdminConsoleHandler().table("SHOW STATS", snapshot: Fixtures.snapshot(pools: [pool]))
        let fresh = try AdminConsoleHandler().table("SHOW STATS", snapshot: Fixtures.snapshot(pools: [pool], takenAt: Fixtures.now + 5))
        XCTAssertEqual(fresh.row("app")?["avg_xact_count"], "0")
    }
}

// TopScreenTests: the text of `sluice top` at 80×24 and wider, cut-offs, and escapes from client-sent names.

@testable import SluiceTools
import XCTest

final class TopScreenTests: XCTestCase {
    static func pool(_ name: String, waitP99: Double? = 0.0123) -> TopFrame.Pool {
        TopFrame.Pool(database: name, mode: "transaction", clientsActive: 3, clientsIdle: 7, clientsWaiting: 2,
                      maxWaitSeconds: 1.5, waitP99Seconds: waitP99, serversActive: 3, serversIdle: 1, serversUsed: 0,
                      serversTested: 0, serversLogin: 1, poolSize: 5)
    }

    static func holder(_ application: String, held: Double, query: String? = nil) -> TopFrame.Holder {
        TopFrame.Holder(database: "app", user: "app", applicationName: application, address: "10.0.0.7", port: 53312,
                        heldSeconds: held, transactionState: "T", lastQuery: query)
    }

    static func frame(holders: Int = 2, leaks: Int = 1, pools: Int = 1) -> TopFrame {
        TopFrame(endpoint: "127.0.0.1:6432", clock: "12:00:00", metricsURL: "http://127.0.0.1:9187/metrics",
                 leakThresholdSeconds: 60, limitRefusals: 4,
                 pools: (0..<pools).map { pool("db\($0)") },
                 holders: (0..<holders).map { holder("worker-\($0)", held: 100 - Double($0)) },
                 leaks: (0..<leaks).map { holder("leaky-\($0)", held: 90, query: "UPDATE t SET x=1") },
                 upstreams: [TopFrame.Upstream(database: "db0", address: "127.0.0.1:5432", serversOpen: 4,
                                               serversConnecting: 1, connectMeanSeconds: 0.0041, connectP99Seconds: 0.25,
                                               connectFailures: 2, queueTimeouts: 0)])
    }

    func testEightyByTwentyFour() {
        let lines = TopScreen.render(Self.frame(), width: 80, height: 24)
        XCTAssertLessThanOrEqual(lines.count, 24)
        XCTAssertTrue(lines.allSatisfy { $0.count == 80 }, lines.map { "\($0.count)" }.joined(separator: ","))
        let text = lines.joined(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("sluice top  127.0.0.1:6432  12:00:00  metrics ok  limit refusals 4"), lines[0])
        XCTAssertTrue(lines[0].hasSuffix("q: quit"))
        let poolRow = try! XCTUnwrap(lines.first { $0.hasPrefix("db0 ") })
        XCTAssertEqual(poolRow.split(separator: " ").map(String.init),
                       ["db0", "3", "7", "2", "1.5s", "12.3ms", "3", "1", "0", "0", "1", "5"])
        XCTAssertTrue(text.contains("LEAK SUSPECTS (held > 60s)"))
        XCTAssertTrue(text.contains("leaky-0"))
        XCTAssertTrue(text.contains("UPDATE t SET x=1"))
        XCTAssertTrue(text.contains("worker-0"), "\n" + text)
        XCTAssertTrue(text.contains("10.0.0.7:53312"))
        let upstream = try! XCTUnwrap(lines.first { $0.hasPrefix("db0") && $0.contains("warm") })
        XCTAssertEqual(upstream.split(separator: " ").map(String.init),
                       ["db0", "warm", "4", "1", "4.10ms", "250.0ms", "2", "0", "127.0.0.1:5432"])
    }

    func testHoldersLongestFirstAndCutWithACount() {
        let lines = TopScreen.render(Self.frame(holders: 40, leaks: 0), width: 80, height: 24)
        XCTAssertEqual(lines.count, 24)
        XCTAssertTrue(lines[23].contains("… "), lines[23])
        XCTAssertTrue(lines[23].contains("more"))
        let shown = lines.filter { $0.contains("worker-") }.count
        // 24 rows minus title, four section headers, two column headers, pool, upstream and the "more" line.
        XCTAssertEqual(shown, 24 - 1 - 4 - 1 - 1 - 1 - 1)
        XCTAssertTrue(lines.first { $0.contains("worker-") }!.contains("worker-0 "))
        XCTAssertTrue(lines.joined().contains("LEAK SUSPECTS (held > 60s): none"))
    }

    func testEverySectionKeepsARowWhenShort() {
        let lines = TopScreen.render(Self.frame(holders: 30, leaks: 30, pools: 30), width: 80, height: 24)
        XCTAssertEqual(lines.count, 24)
        XCTAssertTrue(lines.contains { $0.hasPrefix("db0 ") })
        XCTAssertTrue(lines.contains { $0.contains("leaky-0") })
        XCTAssertTrue(lines.contains { $0.contains("worker-0") })
        XCTAssertTrue(lines.contains { $0.contains("warm") })
    }

    func testWiderTerminalShowsModeAndLongerNames() {
        var frame = Self.frame()
        frame.holders = [Self.holder("a-rather-long-application-name-42", held: 3, query: "SELECT pg_sleep(10) -- from the nightly job")]
        let narrow = TopScreen.render(frame, width: 80, height: 24).joined(separator: "\n")
        let wide = TopScreen.render(frame, width: 160, height: 50)
        XCTAssertTrue(wide.allSatisfy { $0.count == 160 })
        XCTAssertFalse(narrow.contains("transaction"))
        XCTAssertTrue(wide.contains { $0.hasPrefix("db0 ") && $0.contains("transaction") })
        XCTAssertFalse(narrow.contains("a-rather-long-application-name-42"))
        XCTAssertTrue(wide.contains { $0.contains("a-rather-long-application-name-42") })
        XCTAssertTrue(wide.contains { $0.contains("SELECT pg_sleep(10) -- from the nightly job") })
    }

    func testNarrowTerminalIsCutNotWrapped() {
        let lines = TopScreen.render(Self.frame(), width: 40, height: 10)
        XCTAssertEqual(lines.count, 10)
        XCTAssertTrue(lines.allSatisfy { $0.count == 40 })
    }

    func testOnceRendersEveryRow() {
        let lines = TopScreen.render(Self.frame(holders: 40, leaks: 0), width: 80, height: nil)
        XCTAssertEqual(lines.filter { $0.contains("worker-") }.count, 40)
        XCTAssertFalse(lines.contains { $0.contains("more") })
    }

    func testControlCharactersFromClientsCannotReachTheTerminal() {
        var frame = Self.frame(holders: 0, leaks: 0)
        frame.holders = [Self.holder("evil\u{1B}[2J\u{07}", held: 1, query: "SELECT 1;\nSELECT 2")]
        let text = TopScreen.render(frame, width: 120, height: 24).joined(separator: "\n")
        XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, text)
        XCTAssertTrue(text.contains("evil?[2J?"))
        XCTAssertTrue(text.contains("SELECT 1; SELECT 2"))
    }

    func testUnknownFiguresAndProblems() {
        var frame = Self.frame(holders: 0, leaks: 0)
        frame.metricsURL = nil
        frame.limitRefusals = nil
        frame.pools = [Self.pool("app", waitP99: nil)]
        frame.upstreams = [TopFrame.Upstream(database: "app", address: "db:5432", serversOpen: 0, serversConnecting: 0)]
        frame.problem = "admin console: connection lost"
        frame.leakThresholdSeconds = 0
        let lines = TopScreen.render(frame, width: 80, height: 24)
        XCTAssertTrue(lines[0].contains("no /metrics (latency: -)"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("! admin console: connection lost"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("app ") && $0.contains(" - ") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("app ") && $0.contains("cold") })
        XCTAssertTrue(lines.contains { $0.contains("LEAK SUSPECTS (leak_detection_threshold = 0: off): none") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("HOLDING SERVERS: none") })
    }

    func testStartingUpstream() {
        XCTAssertEqual(TopFrame.Upstream(database: "a", address: "x", serversOpen: 0, serversConnecting: 2).temperature, "starting")
        XCTAssertEqual(TopFrame.Upstream(database: "a", address: "x", serversOpen: 1, serversConnecting: 2).temperature, "warm")
    }

    func testDurations() {
        XCTAssertEqual(TopScreen.duration(nil), "-")
        XCTAssertEqual(TopScreen.duration(0.00085), "850us")
        XCTAssertEqual(TopScreen.duration(0.0041), "4.10ms")
        XCTAssertEqual(TopScreen.duration(0.25), "250.0ms")
        XCTAssertEqual(TopScreen.duration(1.5), "1.50s")
    }
}

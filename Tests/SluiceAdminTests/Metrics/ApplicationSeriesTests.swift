// ApplicationSeriesTests: per-application families from ApplicationBook readings — at most limit + 1 names, monotonic series.
@testable import SluiceAdmin
@testable import SluiceCore
import XCTest

final class ApplicationSeriesTests: XCTestCase {
    typealias Layout = ApplicationBook.Layout

    func render(_ book: ApplicationBook, _ metrics: SluiceMetrics, now: UInt64 = 0) -> Exposition {
        var snapshot = Fixtures.snapshot()
        snapshot.applications = book.read(now: now)
        return Exposition(metrics.render(snapshot))
    }

    func names(_ exposition: Exposition, _ family: String) -> Set<String> {
        var names = Set<String>()
        for key in exposition.samples.keys where key.hasPrefix(family + "{") || key.hasPrefix(family + "_count{") {
            if let range = key.range(of: #"application_name="[^"]*""#, options: .regularExpression) {
                names.insert(String(key[range].dropFirst("application_name=\"".count).dropLast()))
            }
        }
        return names
    }

    func testTenThousandNamesMakeAtMostLimitPlusOneSeries() {
        let book = ApplicationBook(limit: 5, workers: 2)
        let metrics = SluiceMetrics()
        let busy = book.resolve("busy", now: 0, worker: 0)
        for _ in 0..<500 { book.record(.transaction, nanoseconds: 2_000_000, slot: busy, worker: 0) }
        for i in 0..<10_000 {
            let slot = book.resolve("tenant-\(i)", now: UInt64(i), worker: i % 2)
            book.record(.transaction, nanoseconds: 1_000_000, slot: slot, worker: i % 2)
            book.record(.poolWait, nanoseconds: 0, slot: slot, worker: i % 2)
            book.record(.serverHold, nanoseconds: 1_000_000, slot: slot, worker: i % 2)
            book.countLeakSuspect(slot: slot, worker: i % 2)
            if i % 1_000 == 0 { _ = render(book, metrics, now: UInt64(i)) }
        }
        book.countRefusal(.maxQueueLength, slot: busy, worker: 1)
        let exposition = render(book, metrics, now: 10_000)
        for family in ["sluice_application_pool_wait_seconds", "sluice_application_transaction_duration_seconds",
                       "sluice_application_server_hold_seconds", "sluice_application_leak_suspects_total",
                       "sluice_application_refusals_total"] {
            XCTAssertLessThanOrEqual(names(exposition, family).count, 6, family)
        }
        let transactions = names(exposition, "sluice_application_transaction_duration_seconds")
        XCTAssertEqual(transactions.count, 6)
        XCTAssertTrue(transactions.contains("busy"))
        XCTAssertTrue(transactions.contains("other"))
        let count = { (name: String) in
            exposition[#"sluice_application_transaction_duration_seconds_count{application_name="\#(name)"}"#] ?? 0
        }
        XCTAssertEqual(count("busy"), 500)
        // Names that lost their series took their counts along; the rest are other's.
        XCTAssertGreaterThanOrEqual(count("other"), 9_900)
        XCTAssertLessThanOrEqual(transactions.reduce(0) { $0 + count($1) }, 10_500)
        XCTAssertEqual(exposition[#"sluice_application_refusals_total{application_name="busy",reason="max_queue_length"}"#], 1)
        XCTAssertEqual(exposition.types["sluice_application_pool_wait_seconds"], "histogram")
        XCTAssertEqual(exposition.types["sluice_application_leak_suspects_total"], "counter")
        XCTAssertNotNil(exposition.help["sluice_application_server_hold_seconds"])
    }

    func testSeriesNeverDecreaseWhenNamesChangePlaces() {
        let book = ApplicationBook(limit: 1, workers: 1)
        var series = ApplicationSeries()
        let a = book.resolve("a", now: 0, worker: 0)
        let b = book.resolve("b", now: 0, worker: 0)
        var previous: [String: UInt64] = [:]
        func check() {
            series.update(book.read(now: 0))
            let transactions = series.series.mapValues { $0[Layout.histogram(.transaction) + ApplicationBook.boundsNanoseconds.count] }
            XCTAssertEqual(series.series.count, 2, "one name and other")
            if let before = previous["other"] { XCTAssertGreaterThanOrEqual(transactions["other"]!, before, "other never decreases") }
            for (name, value) in transactions where previous[name] != nil && name != "other" {
                XCTAssertGreaterThanOrEqual(value, previous[name]!)
            }
            previous = transactions
        }
        for _ in 0..<10 { book.record(.transaction, nanoseconds: 70_000_000_000, slot: a, worker: 0) }
        check()
        XCTAssertEqual(previous["a"], 10)
        for _ in 0..<12 { book.record(.transaction, nanoseconds: 70_000_000_000, slot: b, worker: 0) }
        check()
        XCTAssertEqual(previous["a"], 10, "a keeps its series: b is not 1.25 times as busy")
        XCTAssertEqual(previous["other"], 12)
        for _ in 0..<30 { book.record(.transaction, nanoseconds: 70_000_000_000, slot: b, worker: 0) }
        check()
        XCTAssertNil(previous["a"], "b took the series")
        XCTAssertEqual(previous["b"], 30, "b's series starts when it is first labelled")
        XCTAssertEqual(previous["other"], 12)
        // Replace entries: the quiet newcomers take a's entry (and later others); nothing is lost or counted twice.
        for i in 0..<20 {
            let slot = book.resolve("n\(i)", now: 0, worker: 0)
            book.record(.transaction, nanoseconds: 70_000_000_000, slot: slot, worker: 0)
            check()
        }
        let total = series.series.values.reduce(UInt64(0)) { $0 + $1[Layout.histogram(.transaction) + ApplicationBook.boundsNanoseconds.count] }
        XCTAssertEqual(total, 10 + 12 + 30 + 20 - 10 /* a's 10, counted while a had its series */)
    }

    func testPromtoolAcceptsTheFamilies() throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else { throw XCTSkip("promtool is not installed") }
        let book = ApplicationBook(limit: 2, workers: 1)
        let slot = book.resolve("web \"quoted\"", now: 0, worker: 0)
        book.record(.poolWait, nanoseconds: 5_000, slot: slot, worker: 0)
        book.countRefusal(.queryWaitTimeout, slot: book.overflowSlot, worker: 0)
        var text = ""
        var series = ApplicationSeries()
        series.update(book.read(now: 0))
        series.emit(into: &text)
        try assertPromtoolAccepts(text, promtool: promtool)
    }
}

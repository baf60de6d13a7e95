// CoreTimersTests: the core's lock-free timers — one series per label set across handlers, bucket edges, concurrency.
import CoreMetrics
import Foundation
@testable import SluiceAdmin
@testable import SluiceCore
import XCTest

final class CoreTimersTests: XCTestCase {
    func testHandlersOfOneLabelSetAreOneSeries() {
        // Two workers' pools of database "app" each make their own handler; /metrics shows one series.
        let metrics = SluiceMetrics()
        let factory = metrics.makeFactory()
        let first = factory.makeTimer(label: "sluice_transaction_duration_seconds", dimensions: [("database", "app")])
        let second = factory.makeTimer(label: "sluice_transaction_duration_seconds", dimensions: [("database", "app")])
        let other = factory.makeTimer(label: "sluice_transaction_duration_seconds", dimensions: [("database", "auth")])
        first.recordNanoseconds(1_000_000)      // 1 ms: on the 0.001 bound, so counted there (le)
        second.recordNanoseconds(1_000_001)     // just above it
        second.recordNanoseconds(90_000_000_000) // 90 s: only +Inf
        other.recordNanoseconds(-5)             // a clock step backwards counts as 0
        let exposition = Exposition(metrics.render(Fixtures.snapshot()))
        let name = "sluice_transaction_duration_seconds"
        XCTAssertEqual(exposition.types[name], "histogram")
        XCTAssertEqual(exposition.help[name], MetricCatalog.coreTimers[name])
        XCTAssertEqual(exposition[#"\#(name)_bucket{database="app",le="0.0005"}"#], 0)
        XCTAssertEqual(exposition[#"\#(name)_bucket{database="app",le="0.001"}"#], 1)
        XCTAssertEqual(exposition[#"\#(name)_bucket{database="app",le="0.0025"}"#], 2)
        XCTAssertEqual(exposition[#"\#(name)_bucket{database="app",le="60.0"}"#], 2)
        XCTAssertEqual(exposition[#"\#(name)_bucket{database="app",le="+Inf"}"#], 3)
        XCTAssertEqual(exposition[#"\#(name)_count{database="app"}"#], 3)
        XCTAssertEqual(try XCTUnwrap(exposition[#"\#(name)_sum{database="app"}"#]), 90.002000001, accuracy: 1e-9)
        XCTAssertEqual(exposition[#"\#(name)_bucket{database="auth",le="0.0001"}"#], 1)
        XCTAssertEqual(exposition[#"\#(name)_sum{database="auth"}"#], 0)
        XCTAssertEqual(exposition.family("\(name)_count").count, 2)
        XCTAssertEqual(exposition.family("\(name)_bucket").count, 2 * (SluiceMetrics.durationBuckets.count + 1))

        factory.destroyTimer(other)
        let after = Exposition(metrics.render(Fixtures.snapshot()))
        XCTAssertNil(after[#"\#(name)_count{database="auth"}"#], "a destroyed timer leaves the exposition")
        XCTAssertEqual(after[#"\#(name)_count{database="app"}"#], 3)
    }

    func testLabelValuesAreEscaped() {
        let metrics = SluiceMetrics()
        let timer = metrics.makeFactory().makeTimer(label: "sluice_pool_wait_seconds", dimensions: [("database", "a\"b\\c\nd")])
        timer.recordNanoseconds(1)
        let text = metrics.render(Fixtures.snapshot())
        XCTAssertTrue(text.contains(#"sluice_pool_wait_seconds_count{database="a\"b\\c\nd"} 1"#), text)
    }

    func testRecordsFromSeveralThreadsWhileRenderingAreAllCounted() {
        let metrics = SluiceMetrics()
        let factory = metrics.makeFactory()
        // Two handlers, each recorded into by two threads at once (swift-metrics' contract), and renders meanwhile.
        let timers = (0..<2).map { _ in factory.makeTimer(label: "sluice_server_hold_seconds", dimensions: [("database", "app")]) }
        let perThread = 50_000
        DispatchQueue.concurrentPerform(iterations: 5) { index in
            if index == 4 {
                for _ in 0..<20 { _ = metrics.render(Fixtures.snapshot()) }  // renders meanwhile
                return
            }
            for i in 0..<perThread { timers[index % 2].recordNanoseconds(Int64(i % 3) * 1_000_000) }
        }
        let exposition = Exposition(metrics.render(Fixtures.snapshot()))
        XCTAssertEqual(exposition[#"sluice_server_hold_seconds_count{database="app"}"#], Double(4 * perThread))
        // i % 3 is 0, 1 or 2 ms: a third of the records each.
        let third = Double(4 * perThread) / 3
        XCTAssertEqual(try XCTUnwrap(exposition[#"sluice_server_hold_seconds_bucket{database="app",le="0.0001"}"#]), third, accuracy: 4)
        XCTAssertEqual(try XCTUnwrap(exposition[#"sluice_server_hold_seconds_sum{database="app"}"#]), third * 0.003, accuracy: 0.02)
    }
}

// MetricsBootstrapTests: after bootstrap(), a swift-metrics Timer lands in the registry as a seconds histogram.
import CoreMetrics
@testable import SluiceCore
import SluiceAdmin
import XCTest

/// `MetricsSystem.bootstrap` may run once per process: only this class bootstraps, once, via a static.
final class MetricsBootstrapTests: XCTestCase {
    static let metrics = SluiceMetrics.bootstrap()

    func testBootstrapIsIdempotent() {
        XCTAssertTrue(SluiceMetrics.bootstrap() === Self.metrics)
    }

    func testTimerBecomesAHistogramInSeconds() {
        let metrics = Self.metrics
        let timer = CoreMetrics.Timer(label: "sluice_pool_wait_seconds", dimensions: [("database", "histo")])
        timer.recordNanoseconds(3_000_000)    // 3 ms
        timer.recordNanoseconds(2_000_000_000) // 2 s
        let exposition = Exposition(metrics.render(Fixtures.snapshot()))
        XCTAssertEqual(exposition.types["sluice_pool_wait_seconds"], "histogram")
        XCTAssertEqual(exposition.help["sluice_pool_wait_seconds"], "Seconds a client waited for a server connection.")
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_bucket{database="histo",le="0.0001"}"#], 0)
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_bucket{database="histo",le="0.0025"}"#], 0)
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_bucket{database="histo",le="0.005"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_bucket{database="histo",le="2.5"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_bucket{database="histo",le="60.0"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_bucket{database="histo",le="+Inf"}"#], 2)
        XCTAssertEqual(exposition[#"sluice_pool_wait_seconds_count{database="histo"}"#], 2)
        XCTAssertEqual(try XCTUnwrap(exposition[#"sluice_pool_wait_seconds_sum{database="histo"}"#]), 2.003, accuracy: 1e-9)
        XCTAssertEqual(exposition.family("sluice_pool_wait_seconds_bucket").count, SluiceMetrics.durationBuckets.count + 1)
        XCTAssertEqual(exposition["sluice_up"], 1, "snapshot metrics share the registry")
    }

    func testOtherTimersAndRecordersUseTheSameBuckets() {
        let metrics = Self.metrics
        CoreMetrics.Timer(label: "sluice_test_other_seconds").recordNanoseconds(200_000)
        Recorder(label: "sluice_test_value_seconds", aggregate: true).record(0.3)
        let exposition = Exposition(metrics.render(Fixtures.snapshot()))
        XCTAssertEqual(exposition[#"sluice_test_other_seconds_bucket{le="0.00025"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_test_value_seconds_bucket{le="0.5"}"#], 1)
        XCTAssertEqual(exposition[#"sluice_test_value_seconds_bucket{le="0.25"}"#], 0)
    }
}

// PrometheusTextTests: parsing /metrics lines, summing series, and histogram_quantile over windows.

@testable import SluiceTools
import XCTest

final class PrometheusTextTests: XCTestCase {
    static let page = """
        # HELP sluice_pool_wait_seconds How long a client waited.
        # TYPE sluice_pool_wait_seconds histogram
        sluice_pool_wait_seconds_bucket{database="app",le="0.001"} 90
        sluice_pool_wait_seconds_bucket{database="app",le="0.01"} 99
        sluice_pool_wait_seconds_bucket{database="app",le="0.1"} 100
        sluice_pool_wait_seconds_bucket{database="app",le="+Inf"} 100
        sluice_pool_wait_seconds_sum{database="app"} 0.5
        sluice_pool_wait_seconds_count{database="app"} 100
        sluice_pool_wait_seconds_bucket{database="other",le="0.001"} 1
        sluice_pool_wait_seconds_bucket{database="other",le="+Inf"} 1
        sluice_limit_refusals_total{limit="max_client_conn"} 3
        sluice_limit_refusals_total{limit="max_client_conn_per_address"} 4
        sluice_clients_by_application{application_name="we\\"ird, app"} 2
        this line is not a sample
        broken{label="x} 1
        """

    func testSamplesAndTotals() {
        let text = PrometheusText(Self.page)
        XCTAssertEqual(text.total("sluice_limit_refusals_total"), 7)
        XCTAssertEqual(text.total("sluice_limit_refusals_total", matching: ["limit": "max_client_conn"]), 3)
        XCTAssertNil(text.total("sluice_missing_total"))
        XCTAssertEqual(text.samples.first { $0.name == "sluice_clients_by_application" }?.labels["application_name"],
                       "we\"ird, app")
        XCTAssertFalse(text.samples.contains { $0.name == "broken" || $0.name == "this" })
    }

    func testQuantileInterpolatesInsideTheBucket() throws {
        let histogram = try XCTUnwrap(PrometheusText(Self.page).histogram("sluice_pool_wait_seconds", matching: ["database": "app"]))
        XCTAssertEqual(histogram.count, 100)
        XCTAssertEqual(histogram.mean, 0.005)
        // rank 99 is the last of the (0.001, 0.01] bucket: its upper bound.
        XCTAssertEqual(try XCTUnwrap(histogram.quantile(0.99)), 0.01, accuracy: 1e-12)
        // rank 45 is half way through the first bucket (90 values in [0, 0.001]).
        XCTAssertEqual(try XCTUnwrap(histogram.quantile(0.45)), 0.0005, accuracy: 1e-12)
        XCTAssertNil(PrometheusText("").histogram("sluice_pool_wait_seconds", matching: [:]))
    }

    func testWindowSubtractsTheEarlierPage() throws {
        let earlier = PrometheusText(Self.page).histogram("sluice_pool_wait_seconds", matching: ["database": "app"])
        let later = PrometheusText(Self.page.replacingOccurrences(of: "le=\"+Inf\"} 100", with: "le=\"+Inf\"} 110")
            .replacingOccurrences(of: "count{database=\"app\"} 100", with: "count{database=\"app\"} 110"))
            .histogram("sluice_pool_wait_seconds", matching: ["database": "app"])!
        let window = later.since(earlier)
        XCTAssertEqual(window.count, 10)
        // The ten new waits were all above 0.1 s: the p99 is the highest finite bound.
        XCTAssertEqual(window.quantile(0.99), 0.1)
        XCTAssertNil(later.since(later).quantile(0.99), "no checkouts in the window: no figure")
        // A restarted Sluice (counts went back) is read from zero.
        XCTAssertEqual(earlier!.since(later).count, 100)
    }

    func testSampleLimit() {
        let many = (0..<50).map { "m{i=\"\($0)\"} 1" }.joined(separator: "\n")
        XCTAssertEqual(PrometheusText(many, maxSamples: 10).samples.count, 10)
    }
}

// SVGChartTests: HdrHistogram's percentile axis, round axis ceilings and time ticks.

@testable import sluice_bench
import XCTest

final class SVGChartTests: XCTestCase {
    func testPercentileAxis() {
        XCTAssertEqual(SVGChart.percentilePosition(0), 0)
        XCTAssertEqual(SVGChart.percentilePosition(90), 1, accuracy: 1e-9)
        XCTAssertEqual(SVGChart.percentilePosition(99.9), 3, accuracy: 1e-9)
        XCTAssertEqual(SVGChart.percentilePosition(100), 6, accuracy: 1e-6)
        XCTAssertEqual(SVGChart.niceCeiling(37), 50)
        XCTAssertEqual(SVGChart.niceCeiling(0.0123), 0.02, accuracy: 1e-12)
        XCTAssertEqual(SVGChart.niceCeiling(0.0234), 0.025, accuracy: 1e-12)
    }

    func testTimeTicksAreRound() {
        let chart = SVGChart(title: "t", xLabel: "s", yLabel: "y",
                             series: [.init(name: "a", color: "#000000", points: [(0.01, 1), (10.02, 2)])]).render()
        let labels = chart.components(separatedBy: "text-anchor=\"middle\" font-size=\"12\">").dropFirst()
            .map { String($0.prefix { $0 != "<" }) }
        XCTAssertEqual(Array(labels.prefix(5)), ["0", "2.50", "5.00", "7.50", "10.0"])
    }
}

// HTMLReportTests: the --report page is self-contained and has one curve per target in each chart.

@testable import sluice_bench
import Histogram
import XCTest

final class HTMLReportTests: XCTestCase {
    func run(_ name: String, latencies: [UInt64], pid: Int32?) -> RunResult {
        var recorder = Recorder()
        for latency in latencies { recorder.latency.record(latency) }
        recorder.transactions = latencies.count
        let target = try! Target(name: name, url: "postgresql://app:pa55word@127.0.0.1:5432/app?sslmode=disable", pid: nil)
        let plan = WorkloadPlan(kind: .select, queryProtocol: .simple, scale: 1, sleepSeconds: 1, rowBytes: 1,
                                transactionsPerConnection: 1)
        var result = RunResult(target: target, plan: plan, recorder: recorder, measuredSeconds: 3)
        result.timeline = (0..<4).map { second in
            TimelinePoint(seconds: Double(second) - 1, tps: 1000 + Double(second), errors: 0,
                          proxyCPUPercent: pid == nil ? nil : 40, proxyRSSMiB: pid == nil ? nil : 30)
        }
        if let pid { result.proxy = ProxyUsage(pid: pid, cpuSeconds: 1, cpuMicrosecondsPerTransaction: 25) }
        return result
    }

    func report() -> BenchReport {
        BenchReport(parameters: RunParameters(workload: .select, protocol: .simple, clients: 4, threads: 2,
                                              durationSeconds: 3, warmupSeconds: 1),
                    runs: [run("direct", latencies: Array(100...2_000), pid: nil),
                           run("sluice<&>", latencies: Array(200...3_000), pid: 42)])
    }

    func testPageIsSelfContained() {
        let html = HTMLReport(report: report(), commandLine: "sluice-bench --compare …").render()
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for external in ["<script", "<link", "src=", "@import", "url(", "https://", "http://fonts"] {
            XCTAssertFalse(html.contains(external), external)
        }
        XCTAssertFalse(html.contains("pa55word"), "passwords are hidden")
        XCTAssertTrue(html.contains("sluice&lt;&amp;&gt;"), "names are escaped")
        XCTAssertFalse(html.contains("sluice<&>"))
    }

    func testChartsHaveACurvePerTarget() {
        let html = HTMLReport(report: report()).render()
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 4)
        let charts = html.components(separatedBy: "<svg").dropFirst()
        let polylines = charts.map { $0.components(separatedBy: "<polyline").count - 1 }
        // latency and throughput: both targets; CPU and RSS: only the one with a pid.
        XCTAssertEqual(polylines, [2, 2, 1, 1])
        XCTAssertTrue(charts.first!.contains(">99.9%<"), "percentile ticks")
        XCTAssertTrue(html.contains("<td>tps</td>"))
        XCTAssertTrue(html.contains("(×"), "ratios to the first target")
    }

    func testWarmUpIsLeftOutOfTheTimeline() {
        let html = HTMLReport(report: report()).render()
        let throughput = html.components(separatedBy: "<svg")[2]
        let points = throughput.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }
        XCTAssertEqual(points.split(separator: " ").count, 3, "seconds 0, 1, 2; not the warm-up's -1")
    }

    func testDistributionFollowsTheHistogram() {
        var histogram = Recorder.makeHistogram()
        for value in 1...1_000 as ClosedRange<UInt64> { histogram.record(value) }
        let points = PercentilePoint.distribution(histogram)
        XCTAssertGreaterThan(points.count, 20)
        XCTAssertEqual(points.last?.percentile, 100)
        XCTAssertEqual(points.last?.latencyMs ?? 0, 1.0, accuracy: 0.001)
        XCTAssertEqual(zip(points, points.dropFirst()).filter { $0.latencyMs > $1.latencyMs }.count, 0, "monotonic")
        XCTAssertTrue(PercentilePoint.distribution(Recorder.makeHistogram()).isEmpty)
    }

    func testEmptyChartSaysWhy() {
        var empty = report()
        empty.runs = empty.runs.map { run in var run = run; run.proxy = nil; return run }
        let html = HTMLReport(report: empty).render()
        XCTAssertTrue(html.contains("no proxy pid given"))
    }
}

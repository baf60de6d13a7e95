// HTMLReport: the --report page — latency percentile curves, throughput, proxy CPU and RSS over time, the table.
import Foundation

/// One self-contained HTML page: inline CSS and SVG only, no script, nothing fetched from the network.
struct HTMLReport {
    let report: BenchReport
    /// The command line that produced it (passwords already hidden), shown under the title.
    var commandLine: String?

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    func render() -> String {
        let markdown = MarkdownReport(report: report)
        let runs = report.runs
        func color(_ index: Int) -> String { Self.palette[index % Self.palette.count] }
        let measured = { (run: RunResult) in run.timeline.filter { $0.seconds >= -0.25 } }
        let latency = SVGChart(
            title: "Transaction latency by percentile", xLabel: "percentile (log scale: 1/(1 − p))", yLabel: "latency (ms)",
            xAxis: .percentile,
            series: runs.enumerated().map { index, run in
                SVGChart.Series(name: run.name, color: color(index),
                                points: run.latencyDistribution.map { ($0.percentile, $0.latencyMs) })
            }, emptyNote: "no transactions completed")
        let throughput = SVGChart(
            title: "Throughput over time", xLabel: "seconds into the measured window", yLabel: "transactions/s",
            series: runs.enumerated().map { index, run in
                SVGChart.Series(name: run.name, color: color(index), points: measured(run).map { ($0.seconds, $0.tps) })
            })
        let sampled = runs.enumerated().filter { $0.element.proxy != nil }
        let noProxy = "no proxy pid given (NAME=URL@PID)"
        /// A chart of one proxy sample over time, a curve per run that named its proxy's pid.
        func proxyChart(_ title: String, yLabel: String, _ value: @escaping (TimelinePoint) -> Double?) -> SVGChart {
            SVGChart(
                title: title, xLabel: "seconds into the measured window", yLabel: yLabel,
                series: sampled.map { index, run in
                    SVGChart.Series(name: run.name, color: color(index),
                                    points: measured(run).compactMap { point in value(point).map { (point.seconds, $0) } })
                }, emptyNote: noProxy)
        }
        let cpu = proxyChart("Proxy CPU over time", yLabel: "CPU (% of one core)") { $0.proxyCPUPercent }
        let memory = proxyChart("Proxy memory (RSS) over time", yLabel: "RSS (MiB)") { $0.proxyRSSMiB }

        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>sluice-bench: \(escape(runs.map(\.name).joined(separator: " vs ")))</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222222; background: #ffffff; max-width: 1100px; }
            h1 { font-size: 20px; margin: 0 0 4px 0; }
            p, li { font-size: 13px; }
            code { font-size: 12px; background: #f3f3f3; padding: 1px 3px; }
            .charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
            .chart { border: 1px solid #dddddd; }
            table { border-collapse: collapse; font-size: 13px; margin: 12px 0; }
            th, td { border: 1px solid #dddddd; padding: 3px 8px; }
            td { text-align: right; font-variant-numeric: tabular-nums; }
            td:first-child, th:first-child { text-align: left; }
            th { background: #f3f3f3; }
            </style>
            </head>
            <body>
            <h1>sluice-bench: \(escape(runs.map(\.name).joined(separator: " vs ")))</h1>
            <p>\(escape(markdown.parameterLine))</p>

            """
        if let commandLine { html += "<p><code>\(escape(commandLine))</code></p>\n" }
        html += "<ul>\n" + runs.map { "<li><b>\(escape($0.name))</b>: <code>\(escape($0.url))</code></li>" }
            .joined(separator: "\n") + "\n</ul>\n"
        html += "<div class=\"charts\">\n" + [latency, throughput, cpu, memory].map { $0.render() }.joined() + "</div>\n"
        html += "<table>\n<tr><th>metric</th>" + runs.map { "<th>\(escape($0.name))</th>" }.joined() + "</tr>\n"
        for row in markdown.table() {
            html += "<tr><td>\(escape(row.label))</td>" + row.cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
        }
        html += "</table>\n"
        html += "<p>Ratios (×) are to the first column. Latency from the first statement sent to the last result read "
            + "(HdrHistogram, µs precision); proxy CPU is utime + stime from /proc, sampled once a second.</p>\n"
        let samples = markdown.errorSamples()
        if !samples.isEmpty {
            html += "<p>First error of each kind:</p>\n<ul>\n"
                + samples.map { "<li>\(escape(String($0.dropFirst(2))))</li>" }.joined(separator: "\n") + "\n</ul>\n"
        }
        return html + "</body>\n</html>\n"
    }
}

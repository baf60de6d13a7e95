// MarkdownReport: the side-by-side table (one column per run, ratios to the first) printed and saved.
import Foundation

struct MarkdownReport {
    let report: BenchReport

    /// One row: a label and how to read its number from a run (nil prints "—").
    private struct Row {
        let label: String
        let decimals: Int
        /// Whether a ratio to the first run means something for this row.
        let ratio: Bool
        let value: (RunResult) -> Double?
    }

    /// The table as label and cells per row (one cell per run, `value (×ratio)`), for Markdown and HTML.
    func table() -> [(label: String, cells: [String])] {
        let runs = report.runs
        return rows().map { row in
            let first = runs.first.flatMap(row.value)
            let cells = runs.enumerated().map { index, run in
                cell(row.value(run), first: index == 0 || !row.ratio ? nil : first, decimals: row.decimals)
            }
            return (row.label, cells)
        }
    }

    func render() -> String {
        let runs = report.runs
        var lines = [header, ""]
        lines.append("| metric | " + runs.map(\.name).joined(separator: " | ") + " |")
        lines.append("|---|" + String(repeating: "---:|", count: runs.count))
        for row in table() {
            lines.append("| \(row.label) | " + row.cells.joined(separator: " | ") + " |")
        }
        lines += errorSamples().isEmpty ? [] : ["", "First error of each kind:", ""] + errorSamples()
        return lines.joined(separator: "\n") + "\n"
    }

    /// `- NAME `CODE` ×N: message` for the first error of each SQLSTATE of each run.
    func errorSamples() -> [String] {
        report.runs.flatMap { run in
            run.errorSamples.keys.sorted().map { code in
                "- \(run.name) `\(code)` ×\(run.errors[code] ?? 0): " + oneLine(run.errorSamples[code] ?? "")
            }
        }
    }

    /// The run's parameters in one line (`workload=select protocol=simple …`).
    var parameterLine: String { String(header.dropFirst("**sluice-bench** ".count)) }

    private var header: String {
        let p = report.parameters
        var words = ["workload=\(p.workload.rawValue)", "protocol=\(p.protocol.rawValue)",
                     "clients=\(p.clients)", "threads=\(p.threads)",
                     "duration=\(compact(p.durationSeconds))s", "warmup=\(compact(p.warmupSeconds))s"]
        if let idle = p.idle { words.append("idle=\(idle)") }
        if let sleep = p.sleepSeconds { words.append("sleep=\(compact(sleep))s") }
        if let bytes = p.rowBytes { words.append("row-bytes=\(bytes)") }
        if let count = p.txPerClient { words.append("tx-per-client=\(count)") }
        if let scale = report.runs.first?.scale { words.append("scale=\(scale)") }
        return "**sluice-bench** " + words.joined(separator: " ")
    }

    private func rows() -> [Row] {
        let runs = report.runs
        var rows = [Row(label: "transactions", decimals: 0, ratio: true) { Double($0.transactions) },
                    Row(label: "tps", decimals: 1, ratio: true) { $0.tps },
                    Row(label: "errors", decimals: 0, ratio: false) { Double($0.errorCount) }]
        let codes = Set(runs.flatMap(\.errors.keys)).sorted()
        for code in codes {
            let label = code == connectionFailureCode ? "errors \(code) (connection)" : "errors \(code)"
            rows.append(Row(label: label, decimals: 0, ratio: false) { Double($0.errors[code] ?? 0) })
        }
        let percentiles: [(String, KeyPath<LatencySummary, Double>)] =
            [("p50", \.p50), ("p90", \.p90), ("p99", \.p99), ("p99.9", \.p999), ("max", \.max)]
        for (name, path) in percentiles {
            rows.append(Row(label: "latency \(name) (ms)", decimals: 3, ratio: true) {
                $0.transactions > 0 ? $0.latencyMs[keyPath: path] : nil
            })
        }
        if runs.contains(where: { $0.connectionsPerSecond != nil }) {
            rows.append(Row(label: "connections/s", decimals: 1, ratio: true) { $0.connectionsPerSecond })
            rows.append(Row(label: "connect p50 (ms)", decimals: 3, ratio: true) { $0.connectLatencyMs?.p50 })
            rows.append(Row(label: "connect p99 (ms)", decimals: 3, ratio: true) { $0.connectLatencyMs?.p99 })
        }
        if runs.contains(where: { $0.bytesReceived != nil }) {
            rows.append(Row(label: "bytes received", decimals: 0, ratio: true) { $0.bytesReceived.map(Double.init) })
            rows.append(Row(label: "MiB/s received", decimals: 1, ratio: true) { $0.megabytesPerSecond })
        }
        if runs.contains(where: { $0.idleConnectionsHeld != nil }) {
            rows.append(Row(label: "idle connections held", decimals: 0, ratio: false) {
                $0.idleConnectionsHeld.map(Double.init)
            })
        }
        if runs.contains(where: { $0.proxy != nil }) {
            rows.append(Row(label: "proxy CPU µs/tx", decimals: 1, ratio: true) { $0.proxy?.cpuMicrosecondsPerTransaction })
            rows.append(Row(label: "proxy CPU s", decimals: 2, ratio: true) { $0.proxy?.cpuSeconds })
            rows.append(Row(label: "proxy peak RSS (MiB)", decimals: 1, ratio: true) {
                $0.proxy?.rssPeakKilobytes.map { Double($0) / 1_024 }
            })
        }
        return rows
    }

    private func cell(_ value: Double?, first: Double?, decimals: Int) -> String {
        guard let value else { return "—" }
        var text = format(value, decimals: decimals)
        if let first, first != 0 { text += " (×" + format(value / first, decimals: 2) + ")" }
        return text
    }

    private func format(_ value: Double, decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    private func compact(_ value: Double) -> String { String(format: "%g", value) }

    private func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}

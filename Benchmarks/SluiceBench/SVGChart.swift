// SVGChart: a self-contained SVG line chart (axes, grid, ticks, one polyline per series, legend) for --report.
import Foundation

/// A line chart drawn as inline SVG: no script, no external font or style. The x axis is linear, or
/// HdrHistogram's percentile axis (`percentile`: position log10(1/(1 − p)), ticks 0 %, 90 %, 99 %, …).
struct SVGChart {
    enum XAxis { case linear, percentile }

    struct Series {
        var name: String
        var color: String
        /// (x, y) in data units; for the percentile axis x is the percentile (0…100).
        var points: [(x: Double, y: Double)]
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var xAxis: XAxis = .linear
    var series: [Series]
    /// Shown instead of the plot when no series has a point.
    var emptyNote = "no data"
    var width = 520.0
    var height = 320.0

    private let left = 64.0, right = 34.0, top = 34.0, bottom = 64.0

    /// Position of a percentile on the percentile axis: log10(1 / (1 − p)), capped at 6 (99.9999 %).
    static func percentilePosition(_ percentile: Double) -> Double {
        let fraction = min(max(percentile / 100, 0), 1 - 1e-6)
        return log10(1 / (1 - fraction))
    }

    func render() -> String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        svg += text(width / 2, 20, title, anchor: "middle", size: 14, extra: " font-weight=\"bold\"")
        let plotted = series.map { line in
            Series(name: line.name, color: line.color, points: line.points.compactMap { point in
                let x = xAxis == .percentile ? Self.percentilePosition(point.x) : point.x
                return x.isFinite && point.y.isFinite ? (x, point.y) : nil
            })
        }
        let all = plotted.flatMap(\.points)
        guard !all.isEmpty else {
            svg += text(width / 2, height / 2, emptyNote, anchor: "middle", extra: " fill=\"#666666\"")
            return svg + "</svg>\n"
        }
        let xMin = xAxis == .percentile ? 0 : min(0, all.map(\.x).min() ?? 0)
        var xMax = all.map(\.x).max() ?? 1
        if xAxis == .percentile { xMax = max(2, min(6, xMax.rounded(.up))) }
        if xMax <= xMin { xMax = xMin + 1 }
        let yMax = Self.niceCeiling(max(all.map(\.y).max() ?? 1, 1e-9))
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - y / yMax * plotHeight }

        // Grid, ticks and labels.
        for index in 0...4 {
            let value = yMax * Double(index) / 4
            let y = py(value)
            svg += line(left, y, left + plotWidth, y, color: "#e4e4e4")
            svg += text(left - 6, y + 4, Self.format(value), anchor: "end")
        }
        for (position, label) in xTicks(xMin: xMin, xMax: xMax) {
            let x = px(position)
            svg += line(x, top, x, top + plotHeight, color: "#e4e4e4")
            svg += text(x, top + plotHeight + 16, label, anchor: "middle")
        }
        svg += line(left, top + plotHeight, left + plotWidth, top + plotHeight, color: "#333333")
        svg += line(left, top, left, top + plotHeight, color: "#333333")
        svg += text(left + plotWidth / 2, top + plotHeight + 34, xLabel, anchor: "middle")
        svg += "<text x=\"14\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" "
            + "transform=\"rotate(-90 14 \(f(top + plotHeight / 2)))\">\(escape(yLabel))</text>\n"

        // Series and legend.
        var legendX = left
        for line in plotted where !line.points.isEmpty {
            let points = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            let legendY = height - 12
            svg += "<rect x=\"\(f(legendX))\" y=\"\(f(legendY - 9))\" width=\"12\" height=\"10\" fill=\"\(line.color)\"/>\n"
            svg += text(legendX + 16, legendY, line.name, anchor: "start")
            legendX += 28 + Double(line.name.count) * 7
        }
        return svg + "</svg>\n"
    }

    private func xTicks(xMin: Double, xMax: Double) -> [(Double, String)] {
        switch xAxis {
        case .percentile:
            let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
            return (0...Int(xMax)).map { (Double($0), labels[min($0, labels.count - 1)]) }
        case .linear:
            // Round steps (1, 2, 2.5 or 5 × 10^n), about five of them.
            let step = Self.niceCeiling((xMax - xMin) / 5)
            var ticks: [(Double, String)] = []
            var value = (xMin / step).rounded(.up) * step
            while value <= xMax + step * 1e-9, ticks.count < 20 {
                ticks.append((value, Self.format(value)))
                value += step
            }
            return ticks
        }
    }

    /// 1, 2, 2.5 or 5 times a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 2.5, 5.0, 10.0] where step * power >= value * (1 - 1e-12) { return step * power }
        return 10 * power
    }

    static func format(_ value: Double) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 10 { return String(format: "%.1f", value) }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3g", value)
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"1\"/>\n"
    }

    private func text(_ x: Double, _ y: Double, _ content: String, anchor: String, size: Int = 12,
                      extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\"\(extra)>\(escape(content))</text>\n"
    }
}

/// `&`, `<`, `>` and `"` as HTML entities.
func escape(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(character)
        }
    }
    return out
}

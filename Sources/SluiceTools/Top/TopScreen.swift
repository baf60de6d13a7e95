// TopScreen: renders a TopFrame as plain text lines for a terminal of a given width and height (pure).
import Foundation

/// Turns a `TopFrame` into at most `height` lines of exactly `width` columns (no escapes). Sections,
/// in order: the title, POOLS, UPSTREAM, LEAK SUSPECTS, HOLDING SERVERS. When rows do not fit, each
/// section keeps at least its first row and the rest is shared out in turn; a section cut short ends
/// with `… N more`. Wider terminals give the extra columns to names, addresses and statements.
public enum TopScreen {
    /// The narrowest layout; narrower terminals get these lines cut at the right edge.
    public static let minimumWidth = 80

    /// `height` nil: every row (for `--once`).
    public static func render(_ frame: TopFrame, width: Int, height: Int?) -> [String] {
        let layoutWidth = max(width, minimumWidth)
        var sections = [
            poolSection(frame, width: layoutWidth),
            upstreamSection(frame, width: layoutWidth),
            leakSection(frame, width: layoutWidth),
            holderSection(frame, width: layoutWidth),
        ]
        var lines = [title(frame, width: layoutWidth)]
        if let problem = frame.problem { lines.append("! " + problem) }
        if let height {
            let budget = max(0, height - lines.count - sections.reduce(0) { $0 + $1.header.count })
            allot(&sections, rows: budget)
        }
        for section in sections {
            lines += section.header
            lines += section.visibleRows
        }
        if let height, lines.count > height { lines = Array(lines.prefix(max(0, height))) }
        return lines.map { fit($0, width) }
    }

    // MARK: sections

    struct Section {
        var header: [String]
        var rows: [String]
        /// Rows shown; nil: all.
        var shown: Int?

        var visibleRows: [String] {
            guard let shown, shown < rows.count else { return rows }
            guard shown > 0 else { return [] }
            return Array(rows.prefix(shown - 1)) + ["  … \(rows.count - shown + 1) more"]
        }
    }

    /// Shares `rows` lines between the sections: one each in turn until each has all or none are left.
    static func allot(_ sections: inout [Section], rows: Int) {
        var left = rows
        for index in sections.indices { sections[index].shown = 0 }
        var progress = true
        while left > 0 && progress {
            progress = false
            for index in sections.indices where left > 0 {
                if sections[index].shown! < sections[index].rows.count {
                    sections[index].shown! += 1
                    left -= 1
                    progress = true
                }
            }
        }
    }

    static func title(_ frame: TopFrame, width: Int) -> String {
        var parts = ["sluice top", frame.endpoint, frame.clock]
        if frame.metricsURL != nil {
            parts.append(frame.metricsProblem.map { "metrics: " + $0 } ?? "metrics ok")
        } else {
            parts.append("no /metrics (latency: -)")
        }
        if let refused = frame.limitRefusals { parts.append("limit refusals \(refused)") }
        let left = parts.joined(separator: "  ")
        let right = "q: quit"
        let gap = width - left.count - right.count
        return gap >= 1 ? left + String(repeating: " ", count: gap) + right : left
    }

    static func poolSection(_ frame: TopFrame, width: Int) -> Section {
        // name | clients act idle wait maxwait wait.p99 | servers act idle used test login | size [mode]
        let showMode = width >= 100
        let fixed = 67 + (showMode ? 13 : 0)
        let name = max(8, width - fixed - 1)
        func row(_ cells: [String]) -> String {
            var line = pad(cells[0], name) + " "
            let widths = [6, 5, 5, 8, 9, 7, 5, 5, 5, 6, 6]
            for (cell, cellWidth) in zip(cells[1...], widths) { line += left(cell, cellWidth) }
            if showMode { line += "  " + cells[12] }
            return line
        }
        let header = row(["POOLS", "cl.act", "idle", "wait", "maxwait", "wait.p99",
                          "sv.act", "idle", "used", "test", "login", "size", "mode"])
        let rows = frame.pools.map { pool in
            row([clean(pool.database), "\(pool.clientsActive)", "\(pool.clientsIdle)", "\(pool.clientsWaiting)",
                 seconds(pool.maxWaitSeconds), duration(pool.waitP99Seconds),
                 "\(pool.serversActive)", "\(pool.serversIdle)", "\(pool.serversUsed)", "\(pool.serversTested)",
                 "\(pool.serversLogin)", "\(pool.poolSize)", clean(pool.mode)])
        }
        return Section(header: [header], rows: rows.isEmpty ? ["  no pools"] : rows)
    }

    static func upstreamSection(_ frame: TopFrame, width: Int) -> Section {
        // name | state | open login | connect mean p99 | refused queue-timeouts | host:port
        let name = max(8, min(24, width - 80 + 8))
        func row(_ cells: [String]) -> String {
            var line = pad(cells[0], name) + " " + pad(cells[1], 8)
            let widths = [5, 6, 9, 9, 8, 8]
            for (cell, cellWidth) in zip(cells[2...7], widths) { line += left(cell, cellWidth) }
            return line + "  " + cells[8]
        }
        let header = row(["UPSTREAM", "state", "open", "login", "conn.avg", "conn.p99", "refused",
                          "q.tmout", "address"])
        let rows = frame.upstreams.map { upstream in
            row([clean(upstream.database), upstream.temperature, "\(upstream.serversOpen)",
                 "\(upstream.serversConnecting)", duration(upstream.connectMeanSeconds),
                 duration(upstream.connectP99Seconds), upstream.connectFailures.map(String.init) ?? "-",
                 upstream.queueTimeouts.map(String.init) ?? "-", clean(upstream.address)])
        }
        return Section(header: [header], rows: rows.isEmpty ? ["  no upstreams"] : rows)
    }

    static func leakSection(_ frame: TopFrame, width: Int) -> Section {
        var title = "LEAK SUSPECTS"
        switch frame.leakThresholdSeconds {
        case .some(0): title += " (leak_detection_threshold = 0: off)"
        case .some(let threshold): title += " (held > \(compact(threshold))s)"
        case nil: break
        }
        if frame.leaks.isEmpty { return Section(header: [title + ": none"], rows: []) }
        return Section(header: holderHeader(title, width: width), rows: frame.leaks.map { holderRow($0, width: width) })
    }

    static func holderSection(_ frame: TopFrame, width: Int) -> Section {
        let title = "HOLDING SERVERS"
        if frame.holders.isEmpty { return Section(header: [title + ": none"], rows: []) }
        return Section(header: holderHeader(title + " (longest first)", width: width),
                       rows: frame.holders.map { holderRow($0, width: width) })
    }

    /// Columns of a holder row: held, database, application_name, client address, tx, last statement.
    struct HolderColumns {
        var database: Int
        var application: Int
        var address = 21
        init(width: Int) {
            let extra = max(0, width - 80)
            database = 10 + min(extra / 4, 14)
            application = 16 + min(extra / 4, 24)
        }
    }

    static func holderHeader(_ title: String, width: Int) -> [String] {
        let columns = HolderColumns(width: width)
        return [title, left("held", 7) + "  " + pad("database", columns.database) + " "
            + pad("application_name", columns.application) + " " + pad("client", columns.address) + " tx  last statement"]
    }

    static func holderRow(_ holder: TopFrame.Holder, width: Int) -> String {
        let columns = HolderColumns(width: width)
        let address = holder.address.contains(":") ? "[\(holder.address)]:\(holder.port)" : "\(holder.address):\(holder.port)"
        let statement = holder.lastQuery.map { clean($0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "-"
        return left(seconds(holder.heldSeconds), 7) + "  " + pad(clean(holder.database), columns.database) + " "
            + pad(clean(holder.applicationName), columns.application) + " " + pad(clean(address), columns.address)
            + " " + pad(clean(holder.transactionState), 2) + "  " + statement
    }

    // MARK: text helpers

    /// Control characters (escapes from an `application_name`, newlines in a statement) become spaces or `?`.
    static func clean(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" {
                out.unicodeScalars.append(" ")
            } else if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out.unicodeScalars.append("?")
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` cut or padded on the right to exactly `width` characters (`…` marks a cut).
    static func fit(_ text: String, _ width: Int) -> String {
        let count = text.count
        if count == width { return text }
        if count < width { return text + String(repeating: " ", count: width - count) }
        guard width > 1 else { return String(text.prefix(width)) }
        return String(text.prefix(width - 1)) + "…"
    }

    static func pad(_ text: String, _ width: Int) -> String { fit(text, width) }

    /// Right-aligned in `width` (cut like `fit` when longer).
    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? fit(text, width) : String(repeating: " ", count: width - text.count) + text
    }

    /// Seconds with one decimal: `0.0s`, `12.5s`, `3601.0s`.
    static func seconds(_ value: Double) -> String { String(format: "%.1fs", value) }

    /// A latency: `-` when unknown, `850us`, `12.3ms`, `1.25s`.
    static func duration(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        if value < 0.001 { return String(format: "%.0fus", value * 1e6) }
        if value < 1 { return String(format: value < 0.01 ? "%.2fms" : "%.1fms", value * 1e3) }
        return String(format: "%.2fs", value)
    }

    static func compact(_ value: Double) -> String { String(format: "%g", value) }
}

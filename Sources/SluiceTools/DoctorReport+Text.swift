// DoctorReport+Text: the table `sluice doctor` prints, then one verdict and fix per problem.

extension DoctorReport {
    public var text: String {
        let header = ["database", "host", "dns", "tcp", "tls", "auth", "connect ms", "rtt ms", "verdict"]
        let body = rows.map { row -> [String] in
            let host = row.host.contains(":") ? "[\(row.host)]:\(row.port)" : "\(row.host):\(row.port)"
            let connect = row.firstConnectMs.map { first in
                Self.milliseconds(first) + (row.secondConnectMs.map { " / " + Self.milliseconds($0) } ?? "")
            } ?? "-"
            return [row.database, host, Self.step(row.dns, row.dnsMs), Self.step(row.tcp, row.tcpMs), row.tls, row.auth,
                    connect, row.rttMs.map(Self.milliseconds) ?? "-", row.verdict]
        }
        let widths = header.indices.map { column in ([header] + body).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(to: widths[index])
            }.joined(separator: "  ")
        }
        var lines = [line(header)] + body.map(line)
        lines.append("(connect ms: first login / second login — a large first one is a cold start; rtt: median of 5 × SELECT 1)")
        for row in rows {
            var details: [String] = []
            if let version = row.serverVersion { details.append("PostgreSQL \(version)") }
            if let maximum = row.maxConnections {
                details.append("max_connections \(maximum) (\(row.reservedConnections ?? 0) reserved), pool_size \(row.poolSize) × \(replicas) replica(s)")
            }
            if !row.addresses.isEmpty { details.append("address \(row.addresses.joined(separator: ", "))") }
            if !details.isEmpty || row.message != nil || !row.warnings.isEmpty { lines.append("") }
            if !details.isEmpty { lines.append("\(row.database): " + details.joined(separator: "; ")) }
            if let message = row.message {
                lines.append("\(row.database): \(row.verdict): \(message.replacingAll("\n", with: " "))")
            }
            if let fix = row.fix { lines.append("  fix: \(fix)") }
            for warning in row.warnings { lines.append("\(row.database): WARN: \(warning)") }
        }
        let failed = rows.filter(\.failed).count
        lines.append("")
        lines.append(failed == 0 ? "All \(rows.count) database(s) reachable." : "\(failed) of \(rows.count) database(s) failed.")
        return lines.joined(separator: "\n") + "\n"
    }

    static func step(_ status: String, _ milliseconds: Double?) -> String {
        guard status == "ok", let milliseconds else { return status }
        return "ok " + Self.milliseconds(milliseconds)
    }

    static func milliseconds(_ value: Double) -> String {
        if value >= 100 { return String(Int(value.rounded())) }
        let scale = value < 1 ? 100.0 : 10.0
        return String((value * scale).rounded() / scale)
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

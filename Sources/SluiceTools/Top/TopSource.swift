// TopSource: reads a running Sluice for `sluice top` — the admin console over libpq, `/metrics` over HTTP.
import Foundation

/// Where each figure comes from: pools, clients, leaks and upstream addresses from the admin console
/// (`SHOW POOLS`, `SHOW CLIENTS`, `SHOW LEAKS`, `SHOW DATABASES`; `SHOW CONFIG` once, for
/// `leak_detection_threshold` and `admin_listen`); the wait p99, connect latency and refusal counts from
/// the `/metrics` histograms and counters (found through `admin_listen` unless given), which the console
/// does not carry. Without `/metrics` those columns show `-`.
public final class TopSource {
    /// The rows of one console read, by command.
    public struct ConsoleTables: Sendable {
        public var pools: [[String: String]]
        public var clients: [[String: String]]
        public var leaks: [[String: String]]
        public var databases: [[String: String]]

        public init(pools: [[String: String]], clients: [[String: String]], leaks: [[String: String]],
                    databases: [[String: String]]) {
            self.pools = pools
            self.clients = clients
            self.leaks = leaks
            self.databases = databases
        }
    }

    /// Pool-wait p99 is taken over the scrapes of the last this-many refreshes.
    public static let waitWindow = 10

    private let console: AdminConsoleClient
    private let timeout: Double
    private var metricsURL: String?
    private let discoverMetrics: Bool
    private var leakThreshold: Double?
    private var configRead = false
    /// Earlier `/metrics` pages, oldest first, at most `waitWindow`.
    private var history: [PrometheusText] = []
    private var lastFrame: TopFrame?

    /// `metricsURL` nil and `discoverMetrics`: read `admin_listen` from `SHOW CONFIG`.
    public init(consoleURL: String, metricsURL: String?, discoverMetrics: Bool, timeout: Double = 3) {
        console = AdminConsoleClient(url: consoleURL, timeout: timeout)
        self.metricsURL = metricsURL
        self.discoverMetrics = discoverMetrics && metricsURL == nil
        self.timeout = timeout
    }

    /// Connects to the console; the reason when that fails (for a clear error before the screen starts).
    public func connect() -> String? {
        console.connect()?.message
    }

    /// One frame. When the console cannot be read the previous frame comes back with `problem` set
    /// (and a reconnect is tried at the next refresh).
    public func refresh(clock: String) -> TopFrame {
        switch readConsole() {
        case .failure(let failure):
            var frame = lastFrame ?? TopFrame(endpoint: console.endpoint, clock: clock)
            frame.clock = clock
            frame.problem = "admin console: " + failure.message
            return frame
        case .success(let tables):
            var metrics: PrometheusText?
            var metricsProblem: String?
            if let metricsURL {
                switch HTTPGet.get(metricsURL, timeout: min(timeout, 2)) {
                case .success(let body): metrics = PrometheusText(body)
                case .failure(let failure): metricsProblem = failure.message
                }
            }
            let frame = Self.frame(tables: tables, metrics: metrics, earlier: history.first, endpoint: console.endpoint,
                                   clock: clock, leakThreshold: leakThreshold, metricsURL: metricsURL,
                                   metricsProblem: metricsProblem)
            if let metrics {
                history.append(metrics)
                if history.count > Self.waitWindow { history.removeFirst(history.count - Self.waitWindow) }
            }
            lastFrame = frame
            return frame
        }
    }

    private func readConsole() -> Result<ConsoleTables, ProbeFailure> {
        if !console.isConnected, let failure = console.connect() { return .failure(failure) }
        if !configRead, case .success(let rows) = console.rows("SHOW CONFIG") {
            configRead = true
            let config = Dictionary(rows.map { ($0["key"] ?? "", $0["value"] ?? "") }, uniquingKeysWith: { a, _ in a })
            leakThreshold = config["leak_detection_threshold"].flatMap(Double.init)
            if discoverMetrics, let listen = config["admin_listen"], !listen.isEmpty {
                metricsURL = Self.metricsURL(adminListen: listen, consoleHost: console.host)
            }
        }
        var tables = ConsoleTables(pools: [], clients: [], leaks: [], databases: [])
        for (command, path) in [("SHOW POOLS", \ConsoleTables.pools), ("SHOW CLIENTS", \.clients),
                                ("SHOW LEAKS", \.leaks), ("SHOW DATABASES", \.databases)] {
            switch console.rows(command) {
            case .success(let rows): tables[keyPath: path] = rows
            case .failure(let failure): return .failure(failure)
            }
        }
        return .success(tables)
    }

    /// `http://HOST:PORT/metrics` for an `admin_listen` value; a wildcard host becomes the console's host
    /// (or 127.0.0.1 when the console was reached over a Unix socket).
    public static func metricsURL(adminListen: String, consoleHost: String?) -> String? {
        guard let colon = adminListen.lastIndex(of: ":"),
              let port = Int(adminListen[adminListen.index(after: colon)...]) else { return nil }
        var host = String(adminListen[..<colon])
        if ["", "*", "0.0.0.0", "[::]", "::"].contains(host) {
            host = consoleHost.flatMap { $0.hasPrefix("/") || $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        return "http://\(host):\(port)/metrics"
    }

    // MARK: building a frame (pure)

    public static func frame(tables: ConsoleTables, metrics: PrometheusText?, earlier: PrometheusText?, endpoint: String,
                             clock: String, leakThreshold: Double?, metricsURL: String?, metricsProblem: String?) -> TopFrame {
        func int(_ row: [String: String], _ key: String) -> Int { Int(row[key] ?? "") ?? 0 }
        func double(_ row: [String: String], _ key: String) -> Double { Double(row[key] ?? "") ?? 0 }
        var frame = TopFrame(endpoint: endpoint, clock: clock, metricsURL: metricsURL, metricsProblem: metricsProblem,
                             leakThresholdSeconds: leakThreshold)
        if let metrics { frame.limitRefusals = Int(metrics.total("sluice_limit_refusals_total") ?? 0) }
        let addresses = Dictionary(tables.databases.map { row in
            (row["name"] ?? "", "\(row["host"] ?? ""):\(row["port"] ?? "")")
        }, uniquingKeysWith: { a, _ in a })
        for row in tables.pools {
            let database = row["database"] ?? ""
            var waitP99: Double?
            if let now = metrics?.histogram("sluice_pool_wait_seconds", matching: ["database": database]) {
                waitP99 = now.since(earlier?.histogram("sluice_pool_wait_seconds", matching: ["database": database]))
                    .quantile(0.99)
            }
            frame.pools.append(TopFrame.Pool(
                database: database, mode: row["pool_mode"] ?? "",
                clientsActive: int(row, "cl_active"), clientsIdle: int(row, "cl_idle"), clientsWaiting: int(row, "cl_waiting"),
                maxWaitSeconds: double(row, "maxwait") + double(row, "maxwait_us") / 1e6, waitP99Seconds: waitP99,
                serversActive: int(row, "sv_active"), serversIdle: int(row, "sv_idle"), serversUsed: int(row, "sv_used"),
                serversTested: int(row, "sv_tested"), serversLogin: int(row, "sv_login"), poolSize: int(row, "pool_size")))
            var upstream = TopFrame.Upstream(
                database: database, address: addresses[database] ?? "?",
                serversOpen: int(row, "sv_active") + int(row, "sv_idle") + int(row, "sv_used") + int(row, "sv_tested"),
                serversConnecting: int(row, "sv_login"))
            if let metrics {
                let labels = ["database": database]
                let connect = metrics.histogram("sluice_upstream_connect_seconds", matching: labels)
                upstream.connectMeanSeconds = connect?.mean
                upstream.connectP99Seconds = connect?.quantile(0.99)
                upstream.connectFailures = Int(metrics.total("sluice_server_connect_failures_total", matching: labels) ?? 0)
                upstream.queueTimeouts = Int(metrics.total("sluice_queue_timeouts_total", matching: labels) ?? 0)
            }
            frame.upstreams.append(upstream)
        }
        func holder(_ row: [String: String]) -> TopFrame.Holder {
            TopFrame.Holder(database: row["database"] ?? "", user: row["user"] ?? "",
                            applicationName: row["application_name"] ?? "", address: row["addr"] ?? "",
                            port: int(row, "port"), heldSeconds: double(row, "held_for_s"),
                            transactionState: row["tx_state"] ?? "", lastQuery: row["last_query"])
        }
        frame.holders = tables.clients
            .filter { !($0["link"] ?? "").isEmpty && !($0["held_for_s"] ?? "").isEmpty }
            .map(holder)
            .sorted { $0.heldSeconds > $1.heldSeconds }
        frame.leaks = tables.leaks.map(holder).sorted { $0.heldSeconds > $1.heldSeconds }
        return frame
    }
}

// DoctorReport: runs `sluice doctor`'s checks for every database and lays the results out as a table or JSON.
import SluiceConfig

/// One row per database, plus the capacity check across databases that share an upstream.
public struct DoctorReport: Encodable, Sendable {
    public struct Row: Encodable, Sendable {
        public var database: String
        public var host: String
        public var port: Int
        /// `ok`, `FAIL` or `-` (not reached) for each step; `tls` holds the protocol or `off`.
        public var dns = "-", tcp = "-", tls = "-", auth = "-"
        public var dnsMs: Double?, tcpMs: Double?
        public var addresses: [String] = []
        /// The first login (a suspended compute wakes here) and a second, warm one.
        public var firstConnectMs: Double?, secondConnectMs: Double?
        /// Median of five `SELECT 1` round trips.
        public var rttMs: Double?
        public var serverVersion: String?
        public var maxConnections: Int?
        /// superuser_reserved_connections + reserved_connections (PostgreSQL 16+).
        public var reservedConnections: Int?
        public var poolSize: Int
        /// `OK`, `WARN`, or the failure's verdict (`DNS`, `TCP`, `TLS`, `AUTH`, `TIMEOUT` …).
        public var verdict = "OK"
        /// The failure as the resolver, the kernel or libpq put it.
        public var message: String?
        public var fix: String?
        public var warnings: [String] = []

        enum CodingKeys: String, CodingKey {
            case database, host, port, dns, tcp, tls, auth, addresses, verdict, message, fix, warnings
            case dnsMs = "dns_ms", tcpMs = "tcp_ms", firstConnectMs = "first_connect_ms"
            case secondConnectMs = "second_connect_ms", rttMs = "rtt_ms", serverVersion = "server_version"
            case maxConnections = "max_connections", reservedConnections = "reserved_connections", poolSize = "pool_size"
        }

        public var failed: Bool { verdict != "OK" && verdict != "WARN" }

        mutating func fail(_ verdict: DoctorVerdict, message: String) {
            self.verdict = verdict.verdict
            self.message = message
            fix = verdict.fix
            switch verdict.stage {
            case .dns: dns = "FAIL"
            case .tcp: tcp = "FAIL"
            case .tls: tls = "FAIL"
            case .auth, .query: auth = "FAIL"
            }
        }
    }

    public var replicas: Int
    public var rows: [Row]
    /// True when no database failed (warnings allowed).
    public var ok: Bool { !rows.contains(where: \.failed) }

    /// Checks every database of `config` in name order, each host of a multi-host URL on its own row.
    public static func run(config: SluiceConfig, timeout: Double, replicas: Int) -> DoctorReport {
        var rows: [Row] = []
        for name in config.databases.keys.sorted() {
            guard let database = config.databases[name] else { continue }
            for host in database.url.hosts {
                var url = database.url
                url.hosts = [host]
                rows.append(check(name: name, url: url, poolSize: config.poolSize(for: database), timeout: timeout))
            }
        }
        addCapacityWarnings(&rows, replicas: replicas)
        return DoctorReport(replicas: replicas, rows: rows)
    }

    static func check(name: String, url: UpstreamURL, poolSize: Int, timeout: Double) -> Row {
        var row = Row(database: name, host: url.host, port: url.port, poolSize: poolSize)
        var start = ContinuousClock.now
        let addresses: [DoctorProbe.Address]
        switch DoctorProbe.resolve(host: url.host, port: url.port, timeout: timeout) {
        case .failure(let failure):
            row.fail(failure.message.contains("timed out") ? .timeoutVerdict(timeout) : .dns(database: name),
                     message: "could not translate host name \"\(url.host)\": \(failure.message)")
            return row
        case .success(let found): addresses = found
        }
        row.dns = "ok"
        row.dnsMs = DoctorProbe.elapsedMilliseconds(since: start)
        row.addresses = addresses.map(\.text)
        start = ContinuousClock.now
        switch DoctorProbe.connect(addresses, timeout: timeout) {
        case .failure(let failure):
            row.fail(.tcp(errorText: failure.message, database: name, timeout: timeout),
                     message: "TCP connect to \(url.host):\(url.port) failed: \(failure.message)")
            return row
        case .success: break
        }
        row.tcp = "ok"
        row.tcpMs = DoctorProbe.elapsedMilliseconds(since: start)

        let parameters = LibpqConnection.parameters(for: url, timeout: timeout)
        start = ContinuousClock.now
        let connection: LibpqConnection
        switch LibpqConnection.open(parameters) {
        case .failure(let failure):
            row.fail(.classify(libpqError: failure.message, database: name, timeout: timeout), message: failure.message)
            if row.auth == "FAIL" { row.tls = url.sslMode == .disable ? "off" : "?" }
            return row
        case .success(let opened): connection = opened
        }
        row.firstConnectMs = DoctorProbe.elapsedMilliseconds(since: start)
        row.tls = connection.tlsProtocol ?? "off"
        row.auth = "ok"
        var trips: [Double] = []
        for _ in 0..<5 {
            let tripStart = ContinuousClock.now
            if case .failure(let failure) = connection.firstRow("SELECT 1") {
                row.fail(.init("ERROR", .query, "SELECT 1 failed → see the message"), message: failure.message)
                return row
            }
            trips.append(DoctorProbe.elapsedMilliseconds(since: tripStart))
        }
        row.rttMs = trips.sorted()[trips.count / 2]
        let settings = "SELECT current_setting('server_version'), current_setting('max_connections'), "
            + "current_setting('superuser_reserved_connections'), coalesce(current_setting('reserved_connections', true), '0')"
        if case .success(let values) = connection.firstRow(settings), values.count == 4 {
            row.serverVersion = values[0]
            row.maxConnections = values[1].flatMap { Int($0) }
            row.reservedConnections = (values[2].flatMap { Int($0) } ?? 0) + (values[3].flatMap { Int($0) } ?? 0)
        }
        start = ContinuousClock.now
        if case .success = LibpqConnection.open(parameters) {
            row.secondConnectMs = DoctorProbe.elapsedMilliseconds(since: start)
        }
        return row
    }

    /// Databases on the same upstream share its max_connections: warn when their pools × replicas do not fit.
    static func addCapacityWarnings(_ rows: inout [Row], replicas: Int) {
        let groups = Dictionary(grouping: rows.indices.filter { rows[$0].maxConnections != nil }) { "\(rows[$0].host):\(rows[$0].port)" }
        for (upstream, indices) in groups {
            guard let first = indices.first, let maximum = rows[first].maxConnections else { continue }
            let reserved = rows[first].reservedConnections ?? 0
            let available = maximum - reserved
            let pools = indices.map { rows[$0].poolSize }.reduce(0, +)
            let needed = pools * replicas
            guard needed > available else { continue }
            let names = indices.map { rows[$0].database }.sorted().joined(separator: ", ")
            let warning = "pool_size \(indices.count > 1 ? "total \(pools) (\(names))" : String(pools)) × \(replicas) "
                + "replica(s) = \(needed) exceeds \(upstream)'s max_connections \(maximum) − \(reserved) reserved = "
                + "\(available) → lower pool_size or replicas, or raise max_connections"
            for index in indices {
                rows[index].warnings.append(warning)
                if rows[index].verdict == "OK" { rows[index].verdict = "WARN" }
            }
        }
    }
}

// PgBouncerImport: turns a pgbouncer.ini (+ userlist.txt) into a Sluice TOML file and a list of what did not fit.
import SluiceConfig

/// The result of `sluice import-pgbouncer`: the TOML text, and every setting left behind with the reason.
public struct PgBouncerImport: Sendable {
    /// A setting that was not carried over (or was changed on the way).
    public struct Skipped: Sendable, Equatable, CustomStringConvertible {
        public var location: String
        public var key: String
        public var reason: String
        public var description: String { "\(location): \(key): \(reason)" }
    }

    public var toml: String
    public var skipped: [Skipped]
    /// Things the user must fill in before the file works (missing upstream passwords, Unix socket hosts).
    public var toFill: [String]
    /// What changed meaning on the way (PgBouncer defaults written out, users that log in upstream as another role).
    public var notes: [String]
    /// `check-config` errors of the generated file; empty when it loads.
    public var validationErrors: [String]

    /// Converts `ini`; `userlist` is the parsed auth file (nil when there is none). `source` names the ini in the header.
    public static func convert(ini: PgBouncerINI, userlist: [(user: String, password: String)]?, source: String)
        -> PgBouncerImport
    {
        var converter = PgBouncerConverter(userlist: userlist ?? [])
        converter.convert(ini)
        let toml = converter.render(source: source)
        var validationErrors: [String] = []
        do {
            _ = try ConfigLoader.parse(toml: toml, file: "(generated)", environment: [:])
        } catch {
            validationErrors = error.errors.map(\.description)
        }
        return PgBouncerImport(toml: toml, skipped: converter.skipped, toFill: converter.toFill,
                               notes: converter.notes, validationErrors: validationErrors)
    }

    /// The human report: what to fill in, what was left behind, what changed.
    public var report: String {
        var lines: [String] = []
        if !toFill.isEmpty {
            lines.append("Fill in before use:")
            lines += toFill.map { "  - " + $0 }
        }
        if !skipped.isEmpty {
            lines.append("Not carried over (\(skipped.count)):")
            lines += skipped.map { "  - " + $0.description }
        }
        if !notes.isEmpty {
            lines.append("Notes:")
            lines += notes.map { "  - " + $0 }
        }
        if !validationErrors.isEmpty {
            lines.append("The generated file does not pass check-config:")
            lines += validationErrors.map { "  - " + $0 }
        }
        return lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }
}

/// The conversion's working state; `[pgbouncer]` keys here, databases and users in +Databases.
struct PgBouncerConverter {
    var sluice = TOMLTable(path: ["sluice"])
    var databases: [TOMLTable] = []
    var users: [TOMLTable] = []
    var skipped: [PgBouncerImport.Skipped] = []
    var toFill: [String] = []
    var notes: [String] = []
    let userlist: [(user: String, password: String)]

    /// Upstream TLS settings applied to every URL.
    var serverSSLMode: String?
    var serverTLSParameters: [(String, String)] = []
    var clientAuth: ClientAuthMethod = .md5
    /// Upstream users of the databases written so far, and whether their URL holds the password.
    var urlUsers: [String: Bool] = [:]

    init(userlist: [(user: String, password: String)]) {
        self.userlist = userlist
    }

    mutating func skip(_ setting: PgBouncerINI.Setting, _ reason: String) {
        skipped.append(.init(location: setting.location, key: setting.key, reason: reason))
    }

    mutating func convert(_ ini: PgBouncerINI) {
        for line in ini.unreadable {
            skipped.append(.init(location: line.location, key: line.key, reason: "not a `key = value` line"))
        }
        let general = ini.settings.filter { $0.section == "pgbouncer" }
        convertGeneral(general)
        decideClientAuth(general)
        for setting in ini.settings {
            switch setting.section {
            case "databases": convertDatabase(setting)
            case "pgbouncer": break
            case "users": skip(setting, "per-user settings have no equivalent in Sluice (pool_mode and pool_size are per database)")
            case "peers": skip(setting, "Sluice has no peering between instances")
            default: skip(setting, "unknown section [\(setting.section)]")
            }
        }
        convertUsers()
        checkPoolSizes()
    }

    private mutating func convertGeneral(_ settings: [PgBouncerINI.Setting]) {
        var listenAddress: String?
        var listenPort = 6432
        var clientTLSMode: String?
        var verbose = 0
        var given: Set<String> = []
        for setting in settings {
            given.insert(setting.key)
            let value = setting.value
            switch setting.key {
            case "listen_addr": listenAddress = value
            case "listen_port":
                if let port = Int(value), (1...65_535).contains(port) { listenPort = port } else { skip(setting, "not a port number") }
            case "pool_mode":
                if value == "statement" {
                    skip(setting, "statement mode is not supported; transaction mode is the closest (multi-statement transactions allowed)")
                    sluice.set("pool_mode", .string("transaction"))
                } else if PoolMode(rawValue: value) != nil {
                    sluice.set("pool_mode", .string(value))
                } else {
                    skip(setting, "unknown pool_mode \(URLText.quoted(value))")
                }
            case "max_client_conn": integer(setting, "max_client_conn", 1...Int.max)
            case "default_pool_size": integer(setting, "default_pool_size", 1...10_000)
            case "min_pool_size": integer(setting, "min_pool_size", 0...10_000)
            case "max_packet_size": integer(setting, "max_packet_size", 1024...(1 << 30))
            case "server_lifetime", "server_idle_timeout": seconds(setting, setting.key, 0...2_592_000)
            case "server_connect_timeout", "server_login_retry": seconds(setting, setting.key, 0.1...3_600)
            case "query_wait_timeout", "client_login_timeout": seconds(setting, setting.key, 0...86_400)
            case "server_reset_query": sluice.set("server_reset_query", .string(value))
            case "server_reset_query_always":
                // PgBouncer reads 0/1 (and yes/no, on/off, true/false).
                switch value.lowercased() {
                case "1", "yes", "on", "true": sluice.set("server_reset_query_always", .boolean(true))
                case "0", "no", "off", "false": sluice.set("server_reset_query_always", .boolean(false))
                default: skip(setting, "not a boolean")
                }
            case "admin_users", "stats_users":
                let names = value.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
                sluice.set(setting.key, .strings(names))
            case "auth_type": break  // decideClientAuth
            case "verbose": verbose = Int(value) ?? 0
            case "client_tls_sslmode": clientTLSMode = value.lowercased()
            case "client_tls_cert_file": sluice.set("client_tls_cert", .string(value))
            case "client_tls_key_file": sluice.set("client_tls_key", .string(value))
            case "client_tls_ca_file": sluice.set("client_tls_ca", .string(value))
            case "client_tls_protocols": clientTLSProtocols(setting)
            case "client_tls_ciphers":
                if ["default", "secure", "fast", "normal", "all", "compat", "legacy", "insecure"].contains(value.lowercased()) {
                    skip(setting, "libtls keyword \(URLText.quoted(value)); Sluice uses OpenSSL's default ciphers")
                } else {
                    sluice.set("client_tls_ciphers", .string(value))
                }
            case "server_tls_sslmode":
                if SSLMode(rawValue: value.lowercased()) != nil { serverSSLMode = value.lowercased() } else { skip(setting, "unknown sslmode") }
            case "server_tls_ca_file": serverTLSParameters.append(("sslrootcert", value))
            case "server_tls_cert_file": serverTLSParameters.append(("sslcert", value))
            case "server_tls_key_file": serverTLSParameters.append(("sslkey", value))
            default:
                if let reason = PgBouncerKeys.notCarried[setting.key] {
                    if setting.key != "auth_file" { skip(setting, reason) }
                } else {
                    skip(setting, "unknown PgBouncer setting")
                }
            }
        }
        // Listen: PgBouncer without listen_addr listens on its Unix socket only; Sluice needs TCP.
        let port = listenPort
        if let listenAddress, !listenAddress.isEmpty {
            let hosts = listenAddress.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
            let addresses = hosts.map { $0.contains(":") ? "[\($0)]:\(port)" : "\($0):\(port)" }
            sluice.set("listen", addresses.count == 1 ? .string(addresses[0]) : .strings(addresses))
        } else {
            sluice.set("listen", .string("127.0.0.1:\(port)"),
                       comment: "PgBouncer had no listen_addr (Unix socket only); Sluice listens on TCP")
            notes.append("listen_addr was not set (PgBouncer listened on its Unix socket only); Sluice listens on 127.0.0.1:\(port).")
        }
        // PgBouncer's defaults that differ from Sluice's, written out so behaviour stays the same.
        let pgbouncerDefaults: [(String, TOMLValue)] = [
            ("pool_mode", .string("session")), ("max_client_conn", .integer(100)), ("server_idle_timeout", .seconds(600)),
        ]
        for (key, value) in pgbouncerDefaults where !given.contains(key) {
            sluice.set(key, value, comment: "PgBouncer's default (Sluice's differs)")
            notes.append("\(key) was not set; wrote PgBouncer's default \(value.text) (Sluice's own default differs).")
        }
        if verbose > 0 { sluice.set("log_level", .string(verbose == 1 ? "debug" : "trace")) }
        if let mode = clientTLSMode { clientTLS(mode, location: settings.first { $0.key == "client_tls_sslmode" }!) }
        sluice.set("admin_listen", .string("127.0.0.1:9187"), comment: "Sluice's /metrics, /health and /ready (PgBouncer has none)")
    }

    private mutating func integer(_ setting: PgBouncerINI.Setting, _ key: String, _ range: ClosedRange<Int>) {
        guard let number = Int(setting.value) else { return skip(setting, "not an integer") }
        let clamped = min(max(number, range.lowerBound), range.upperBound)
        if clamped != number {
            skip(setting, "\(number) is outside Sluice's range \(range.lowerBound)...\(range.upperBound); wrote \(clamped)")
        }
        sluice.set(key, .integer(clamped))
    }

    private mutating func seconds(_ setting: PgBouncerINI.Setting, _ key: String, _ range: ClosedRange<Double>) {
        guard let number = Double(setting.value), number.isFinite else { return skip(setting, "not a number of seconds") }
        let clamped = min(max(number, range.lowerBound), range.upperBound)
        if clamped != number {
            skip(setting, "\(TOMLValue.seconds(number).text) is outside Sluice's range; wrote \(TOMLValue.seconds(clamped).text)")
        }
        sluice.set(key, .seconds(clamped))
    }

    private mutating func clientTLSProtocols(_ setting: PgBouncerINI.Setting) {
        let words = Set(setting.value.lowercased().split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init))
        if words == ["tlsv1.3"] {
            sluice.set("client_tls_min_version", .string("tlsv1.3"))
        } else {
            sluice.set("client_tls_min_version", .string("tlsv1.2"))
            if !words.isDisjoint(with: ["all", "legacy", "tlsv1.0", "tlsv1.1"]) {
                skip(setting, "Sluice accepts TLS 1.2 and later only; wrote client_tls_min_version = \"tlsv1.2\"")
            }
        }
    }

    private mutating func clientTLS(_ mode: String, location setting: PgBouncerINI.Setting) {
        let hasCertificate = sluice.value("client_tls_cert") != nil && sluice.value("client_tls_key") != nil
        var tls = mode
        if mode == "verify-ca" || mode == "verify-full" {
            tls = "require"
            if sluice.value("client_tls_ca") != nil {
                sluice.set("client_tls_verify", .string(mode))
            } else {
                skip(setting, "\(mode) needs client_tls_ca_file; client certificates are not checked")
            }
        }
        guard ClientTLSMode(rawValue: tls) != nil else { return skip(setting, "unknown sslmode \(URLText.quoted(mode))") }
        if tls != "disable" && !hasCertificate {
            return skip(setting, "client_tls = \(tls) needs client_tls_cert_file and client_tls_key_file; TLS toward clients left off")
        }
        sluice.set("client_tls", .string(tls))
    }

    /// PgBouncer's `auth_type` → `client_auth`, given what the userlist holds.
    private mutating func decideClientAuth(_ settings: [PgBouncerINI.Setting]) {
        let setting = settings.last { $0.key == "auth_type" }
        let type = setting?.value.lowercased() ?? "md5"
        let hasSCRAM = userlist.contains { $0.password.hasPrefix("SCRAM-SHA-256$") }
        let hasMD5 = userlist.contains { UserConfig(name: $0.user, password: $0.password).passwordKind == .md5Hash }
        switch type {
        case "scram-sha-256": clientAuth = .scramSHA256
        case "md5":
            // PgBouncer's md5 uses SCRAM for users stored with a SCRAM verifier.
            clientAuth = hasSCRAM && !hasMD5 ? .scramSHA256 : .md5
            if clientAuth == .scramSHA256 {
                notes.append("auth_type = md5 with SCRAM verifiers only: wrote client_auth = \"scram-sha-256\" (PgBouncer used SCRAM for them too).")
            }
        default:
            clientAuth = .scramSHA256
            if let setting {
                skip(setting, "auth_type \(type) has no equivalent; Sluice authenticates clients with scram-sha-256 or md5 (wrote scram-sha-256)")
            }
        }
        sluice.set("client_auth", .string(clientAuth.rawValue))
    }

    /// The whole file: header, `[sluice]`, databases, users, and the report as trailing comments.
    func render(source: String) -> String {
        var parts = ["# Converted from \(source) by `sluice import-pgbouncer`.\n"
            + "# Check it with `sluice check-config --config FILE`; the notes at the end list what was left behind.\n"]
        var general = sluice
        let order = ["listen", "admin_listen", "pool_mode", "max_client_conn", "default_pool_size", "min_pool_size",
                     "client_auth", "admin_users", "stats_users", "server_reset_query", "server_lifetime",
                     "server_idle_timeout", "server_connect_timeout", "server_login_retry", "query_wait_timeout",
                     "client_login_timeout", "max_packet_size", "log_level", "client_tls", "client_tls_cert",
                     "client_tls_key", "client_tls_ca", "client_tls_verify", "client_tls_min_version", "client_tls_ciphers"]
        let rank = { (key: String) in order.firstIndex(of: key) ?? order.count }
        general.entries = general.entries.enumerated()
            .sorted { (rank($0.element.key), $0.offset) < (rank($1.element.key), $1.offset) }.map(\.element)
        parts.append(general.text)
        parts += databases.map(\.text)
        parts += users.map(\.text)
        var trailer: [String] = []
        if !toFill.isEmpty { trailer.append("# Fill in before use:"); trailer += toFill.map { "#   - " + $0 } }
        if !skipped.isEmpty {
            trailer.append("# Not carried over from PgBouncer:")
            trailer += skipped.map { "#   - " + $0.description.replacingAll("\n", with: " ") }
        }
        if !trailer.isEmpty { parts.append(trailer.joined(separator: "\n") + "\n") }
        return parts.joined(separator: "\n")
    }
}


// ShowConfig: `SHOW CONFIG` — every `[sluice]` key with its value, its default and whether RELOAD changes it.
import SluiceConfig
import SluiceCore

/// PgBouncer's `SHOW CONFIG` columns (`key`, `value`, `default`, `changeable`), sorted by key.
/// Values are written as in the TOML file: lists comma-separated, seconds without a needless `.0`,
/// booleans `true`/`false`, an unset optional key (`admin_listen`, `client_tls_cert`…) empty;
/// `client_tls_key` is a file path, so it is shown like the others. Keys bound at start (`listen`, `workers`,
/// `admin_listen`) are not changeable.
final class ShowConfig: AdminCommand {
    let name = "SHOW CONFIG"
    let requiresAdmin = false

    /// One `[sluice]` key: how to write its value and whether RELOAD applies it.
    struct Entry {
        var key: String
        var changeable: Bool
        var value: (SluiceConfig) -> String
    }

    /// Every key of `SluiceConfig.keys` (a test checks the two lists agree).
    static let entries: [Entry] = [
        Entry(key: "listen", changeable: false) { $0.listen.map(\.description).joined(separator: ",") },
        Entry(key: "pool_mode", changeable: true) { $0.poolMode.rawValue },
        Entry(key: "max_client_conn", changeable: true) { String($0.maxClientConn) },
        Entry(key: "default_pool_size", changeable: true) { String($0.defaultPoolSize) },
        Entry(key: "min_pool_size", changeable: true) { String($0.minPoolSize) },
        Entry(key: "server_reset_query", changeable: true) { $0.serverResetQuery },
        Entry(key: "auth_file", changeable: true) { $0.authFile ?? "" },
        Entry(key: "server_reset_query_always", changeable: true) { $0.serverResetQueryAlways ? "true" : "false" },
        Entry(key: "max_replica_lag", changeable: true) { formatDecimal($0.maxReplicaLag) },
        Entry(key: "replica_lag_check_interval", changeable: true) { formatDecimal($0.replicaLagCheckInterval) },
        Entry(key: "server_loss", changeable: true) { $0.serverLoss.rawValue },
        Entry(key: "client_auth", changeable: true) { $0.clientAuth.rawValue },
        Entry(key: "max_packet_size", changeable: true) { String($0.maxPacketSize) },
        Entry(key: "client_login_timeout", changeable: true) { formatDecimal($0.clientLoginTimeout) },
        Entry(key: "query_wait_timeout", changeable: true) { formatDecimal($0.queryWaitTimeout) },
        Entry(key: "cold_start_notice_after", changeable: true) { formatDecimal($0.coldStartNoticeAfter) },
        Entry(key: "server_connect_timeout", changeable: true) { formatDecimal($0.serverConnectTimeout) },
        Entry(key: "server_login_retry", changeable: true) { formatDecimal($0.serverLoginRetry) },
        Entry(key: "server_lifetime", changeable: true) { formatDecimal($0.serverLifetime) },
        Entry(key: "server_idle_timeout", changeable: true) { formatDecimal($0.serverIdleTimeout) },
        Entry(key: "shutdown_timeout", changeable: true) { formatDecimal($0.shutdownTimeout) },
        Entry(key: "max_db_client_connections", changeable: true) { String($0.maxDBClientConnections) },
        Entry(key: "max_user_client_connections", changeable: true) { String($0.maxUserClientConnections) },
        Entry(key: "max_client_conn_per_address", changeable: true) { String($0.maxClientConnPerAddress) },
        Entry(key: "limit_exempt_addresses", changeable: true) { $0.limitExemptAddresses.joined(separator: ",") },
        Entry(key: "reserve_pool_size", changeable: true) { String($0.reservePoolSize) },
        Entry(key: "reserve_pool_timeout", changeable: true) { formatDecimal($0.reservePoolTimeout) },
        Entry(key: "max_db_connections", changeable: true) { String($0.maxDBConnections) },
        Entry(key: "max_user_connections", changeable: true) { String($0.maxUserConnections) },
        Entry(key: "max_queue_length", changeable: true) { String($0.maxQueueLength) },
        Entry(key: "auth_failure_delay", changeable: true) { formatDecimal($0.authFailureDelay) },
        Entry(key: "max_auth_failures", changeable: true) { String($0.maxAuthFailures) },
        Entry(key: "max_prepared_statements", changeable: true) { String($0.maxPreparedStatements) },
        Entry(key: "notify_relay", changeable: true) { $0.notifyRelay ? "true" : "false" },
        Entry(key: "notify_queue_limit", changeable: true) { String($0.notifyQueueLimit) },
        Entry(key: "notify_queue_bytes", changeable: true) { String($0.notifyQueueBytes) },
        Entry(key: "notify_max_channels", changeable: true) { String($0.notifyMaxChannels) },
        Entry(key: "server_check_delay", changeable: true) { formatDecimal($0.serverCheckDelay) },
        Entry(key: "server_check_query", changeable: true) { $0.serverCheckQuery },
        Entry(key: "client_idle_timeout", changeable: true) { formatDecimal($0.clientIdleTimeout) },
        Entry(key: "idle_transaction_timeout", changeable: true) { formatDecimal($0.idleTransactionTimeout) },
        Entry(key: "query_timeout", changeable: true) { formatDecimal($0.queryTimeout) },
        Entry(key: "tcp_keepalive", changeable: true) { $0.tcpKeepalive ? "true" : "false" },
        Entry(key: "tcp_keepidle", changeable: true) { String($0.tcpKeepidle) },
        Entry(key: "tcp_keepintvl", changeable: true) { String($0.tcpKeepintvl) },
        Entry(key: "tcp_keepcnt", changeable: true) { String($0.tcpKeepcnt) },
        Entry(key: "workers", changeable: false) { String($0.workers) },
        Entry(key: "log_level", changeable: true) { $0.logLevel.rawValue },
        Entry(key: "admin_listen", changeable: false) { $0.adminListen?.description ?? "" },
        Entry(key: "admin_users", changeable: true) { $0.adminUsers.joined(separator: ",") },
        Entry(key: "stats_users", changeable: true) { $0.statsUsers.joined(separator: ",") },
        Entry(key: "leak_detection_threshold", changeable: true) { formatDecimal($0.leakDetectionThreshold) },
        Entry(key: "log_leak_queries", changeable: true) { $0.logLeakQueries ? "true" : "false" },
        Entry(key: "metrics_application_limit", changeable: false) { String($0.metricsApplicationLimit) },
        Entry(key: "client_tls", changeable: true) { $0.clientTLS?.rawValue ?? "" },
        Entry(key: "client_tls_cert", changeable: true) { $0.clientTLSCert ?? "" },
        Entry(key: "client_tls_key", changeable: true) { $0.clientTLSKey ?? "" },
        Entry(key: "client_tls_ca", changeable: true) { $0.clientTLSCA ?? "" },
        Entry(key: "client_tls_verify", changeable: true) { $0.clientTLSVerify.rawValue },
        Entry(key: "client_tls_min_version", changeable: true) { $0.clientTLSMinVersion.rawValue },
        Entry(key: "client_tls_ciphers", changeable: true) { $0.clientTLSCiphers ?? "" },
    ]

    static let columns: [Column] = [.text("key"), .text("value"), .text("default"), .text("changeable")]

    private let defaults = SluiceConfig()

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        var result = ResultSet(Self.columns)
        for entry in Self.entries.sorted(by: { $0.key < $1.key }) {
            result.append([
                .text(entry.key), .text(entry.value(snapshot.config)), .text(entry.value(defaults)),
                .text(entry.changeable ? "yes" : "no"),
            ])
        }
        return .rows(result)
    }
}

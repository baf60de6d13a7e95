// SluiceConfig+Keys: the one table of `[sluice]` keys (names, types, defaults, ranges).

extension SluiceConfig {
    /// Every `[sluice]` key. The file reader, the `SLUICE_<KEY>` environment overrides, the
    /// unknown-key check and `init()`'s defaults all read this table: a new key is one line here
    /// (plus its property).
    static let keys: [ConfigKey<SluiceConfig>] = [
        .init("listen", \.listen, default: [ListenAddress(host: "127.0.0.1", port: 6432)], .listenAddresses),
        .init("pool_mode", \.poolMode, default: .transaction, .choice),
        .init("max_client_conn", \.maxClientConn, default: 5000, .integer(atLeast: 1)),
        .init("default_pool_size", \.defaultPoolSize, default: 20, .integer(1...10_000)),
        .init("min_pool_size", \.minPoolSize, default: 0, .integer(0...10_000)),
        .init("server_reset_query", \.serverResetQuery, default: "DISCARD ALL", .text),
        .init("client_auth", \.clientAuth, default: .scramSHA256, .choice),
        .init("max_packet_size", \.maxPacketSize, default: 64 << 20, .integer(1024...(1 << 30))),
        .init("client_login_timeout", \.clientLoginTimeout, default: 60, .seconds(0...86_400)),
        .init("query_wait_timeout", \.queryWaitTimeout, default: 120, .seconds(0...86_400)),
        .init("server_connect_timeout", \.serverConnectTimeout, default: 15, .seconds(0.1...3_600)),
        .init("server_login_retry", \.serverLoginRetry, default: 15, .seconds(0.1...3_600)),
        .init("cold_start_notice_after", \.coldStartNoticeAfter, default: 5, .seconds(0...3_600)),
        .init("server_lifetime", \.serverLifetime, default: 3_600, .seconds(0...2_592_000)),
        .init("server_idle_timeout", \.serverIdleTimeout, default: 60, .seconds(0...2_592_000)),
        .init("max_db_client_connections", \.maxDBClientConnections, default: 0, .integer(0...1_000_000)),
        .init("max_user_client_connections", \.maxUserClientConnections, default: 0, .integer(0...1_000_000)),
        .init("max_client_conn_per_address", \.maxClientConnPerAddress, default: 0, .integer(0...1_000_000)),
        .init("limit_exempt_addresses", \.limitExemptAddresses, default: [], .cidrList),
        .init("reserve_pool_size", \.reservePoolSize, default: 0, .integer(0...10_000)),
        .init("reserve_pool_timeout", \.reservePoolTimeout, default: 5, .seconds(0...3_600)),
        .init("max_db_connections", \.maxDBConnections, default: 0, .integer(0...100_000)),
        .init("max_user_connections", \.maxUserConnections, default: 0, .integer(0...100_000)),
        .init("max_queue_length", \.maxQueueLength, default: 0, .integer(0...1_000_000)),
        .init("auth_failure_delay", \.authFailureDelay, default: 0, .seconds(0...60)),
        .init("max_auth_failures", \.maxAuthFailures, default: 0, .integer(0...1_000_000)),
        .init("max_prepared_statements", \.maxPreparedStatements, default: 200, .integer(0...100_000)),
        .init("server_check_delay", \.serverCheckDelay, default: 30, .seconds(0...86_400)),
        .init("server_check_query", \.serverCheckQuery, default: "", .text),
        .init("client_idle_timeout", \.clientIdleTimeout, default: 0, .seconds(0...2_592_000)),
        .init("idle_transaction_timeout", \.idleTransactionTimeout, default: 0, .seconds(0...86_400)),
        .init("query_timeout", \.queryTimeout, default: 0, .seconds(0...86_400)),
        .init("tcp_keepalive", \.tcpKeepalive, default: true, .boolean),
        .init("tcp_keepidle", \.tcpKeepidle, default: 60, .integer(0...86_400)),
        .init("tcp_keepintvl", \.tcpKeepintvl, default: 10, .integer(0...3_600)),
        .init("tcp_keepcnt", \.tcpKeepcnt, default: 6, .integer(0...100)),
        .init("shutdown_timeout", \.shutdownTimeout, default: 30, .seconds(0...86_400)),
        .init("workers", \.workers, default: 1, .integer(1...64)),
        .init("log_level", \.logLevel, default: .info, .choice),
        .init("admin_listen", \.adminListen, .listenAddress),
        .init("client_tls", \.clientTLS, .choice),
        .init("client_tls_cert", \.clientTLSCert, .text),
        .init("client_tls_key", \.clientTLSKey, .text),
        .init("client_tls_ca", \.clientTLSCA, .text),
        .init("client_tls_verify", \.clientTLSVerify, default: ClientTLSVerify.none, .choice),
        .init("client_tls_min_version", \.clientTLSMinVersion, default: .tls12, .choice),
        .init("client_tls_ciphers", \.clientTLSCiphers, .text),
        .init("admin_users", \.adminUsers, default: [], .nameList),
        .init("stats_users", \.statsUsers, default: [], .nameList),
        .init("leak_detection_threshold", \.leakDetectionThreshold, default: 60, .seconds(0...86_400)),
        .init("log_leak_queries", \.logLeakQueries, default: false, .boolean),
        .init("metrics_application_limit", \.metricsApplicationLimit, default: 20, .integer(0...200)),
    ]

    /// `SLUICE_*` variables that are not keys but are read elsewhere (so not "unknown").
    static let reservedEnvironmentNames: Set<String> = ["SLUICE_CONFIG", "SLUICE_LOG_FORMAT", "SLUICE_LOOP_LINGER_MS"]
}

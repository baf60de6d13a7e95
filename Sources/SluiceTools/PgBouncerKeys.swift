// PgBouncerKeys: PgBouncer settings Sluice has no key for, each with the reason shown to the user.

enum PgBouncerKeys {
    /// `[pgbouncer]` keys that are not carried over, and why.
    static let notCarried: [String: String] = {
        var reasons: [String: String] = [:]
        func add(_ keys: [String], _ reason: String) { for key in keys { reasons[key] = reason } }
        add(["ignore_startup_parameters"], "not needed: Sluice accepts and applies every startup parameter")
        add(["track_extra_parameters"], "not needed: Sluice tracks every parameter a client sets")
        add(["max_prepared_statements"], "not needed: Sluice keeps prepared statements working in transaction mode by itself")
        add(["auth_query", "auth_user", "auth_dbname"],
            "Sluice does not look passwords up upstream; list client logins under [users] (password or SCRAM verifier)")
        add(["auth_hba_file", "auth_ident_file"],
            "Sluice has no pg_hba-style rules; restrict access with the network (firewall, NetworkPolicy) and client_tls_verify")
        add(["server_round_robin"], "Sluice connects to the single host of each database URL; there is nothing to rotate among")
        add(["so_reuseport"], "not needed: one Sluice uses every core through `workers`; run more instances behind a load balancer")
        add(["unix_socket_dir", "unix_socket_mode", "unix_socket_group"], "Sluice listens on TCP only (see `listen`)")
        add(["logfile", "syslog", "syslog_ident", "syslog_facility"],
            "Sluice logs to standard error (journald or the container runtime keeps it)")
        add(["pidfile", "user"], "Sluice does not daemonize; run it under systemd (deploy/systemd/sluice.service) or in a container")
        add(["log_connections", "log_disconnections", "log_pooler_errors", "log_stats", "stats_period"],
            "Sluice's counters are on /metrics (admin_listen) and in SHOW STATS")
        add(["reserve_pool_size", "reserve_pool_timeout"], "Sluice has no reserve pool; raise pool_size instead")
        add(["max_db_connections", "max_user_connections"],
            "no per-database or per-user server cap in Sluice; pool_size bounds each pool")
        add(["server_check_query", "server_check_delay", "server_fast_close"],
            "no equivalent: Sluice replaces a server when it fails and at server_lifetime")
        add(["client_idle_timeout", "idle_transaction_timeout", "query_timeout", "cancel_wait_timeout", "suspend_timeout",
             "server_login_retry_max"], "no equivalent key in Sluice")
        add(["tcp_keepalive", "tcp_keepcnt", "tcp_keepidle", "tcp_keepintvl", "tcp_user_timeout", "tcp_defer_accept",
             "tcp_socket_buffer", "listen_backlog", "pkt_buf", "sbuf_loopcnt"], "Sluice uses its own socket settings")
        add(["dns_max_ttl", "dns_nxdomain_ttl", "dns_zone_check_period", "resolv_conf"],
            "Sluice resolves upstream host names with the system resolver at each connect")
        add(["application_name_add_host", "disable_pqexec", "conffile", "service_name", "job_name", "quiet"],
            "no equivalent in Sluice")
        add(["autodb_idle_timeout"], "Sluice has no automatically created databases")
        add(["peer_id"], "Sluice has no peering between instances")
        add(["client_tls_dheparams", "client_tls_ecdhcurve", "server_tls_protocols", "server_tls_ciphers"],
            "Sluice uses OpenSSL's defaults")
        add(["auth_file"], "read for passwords (pass userlist.txt as the second argument to read another file)")
        return reasons
    }()

    /// `[databases]` entry keys that are not carried over, and why.
    static let databaseNotCarried: [String: String] = [
        "reserve_pool": "Sluice has no reserve pool; raise pool_size instead",
        "reserve_pool_size": "Sluice has no reserve pool; raise pool_size instead",
        "max_db_connections": "no per-database server cap in Sluice; pool_size bounds the pool",
        "max_db_client_connections": "no per-database client cap key in Sluice; max_client_conn bounds all clients",
        "connect_query": "no equivalent; set per-role defaults upstream (ALTER ROLE … SET …)",
        "auth_user": "Sluice does not look passwords up upstream; list client logins under [users]",
        "auth_query": "Sluice does not look passwords up upstream; list client logins under [users]",
        "auth_dbname": "Sluice does not look passwords up upstream; list client logins under [users]",
        "server_lifetime": "no per-database server_lifetime in Sluice; the [sluice] value applies",
        "load_balance_hosts": "Sluice connects to one host per database",
    ]

    /// Keys that became part of the URL (`options=-c …`).
    static let startupSettings: [String: String] = [
        "client_encoding": "client_encoding", "datestyle": "DateStyle", "timezone": "TimeZone",
    ]
}

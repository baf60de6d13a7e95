// SluiceConfig: the whole validated configuration of one Sluice process.

/// Everything a running Sluice needs to know, as read from the TOML file and `SLUICE_*` variables.
///
/// `init()` gives every `[sluice]` key its default from `SluiceConfig.keys`; the loader then
/// lays the file and the environment over it.
public struct SluiceConfig: Sendable, Equatable {
    /// `listen`: addresses client connections are accepted on.
    public var listen: [ListenAddress]
    /// `pool_mode`: when a server goes back to the pool (per transaction or per session).
    public var poolMode: PoolMode
    /// `max_client_conn`: client connections accepted at once, over all databases.
    public var maxClientConn: Int
    /// `default_pool_size`: server connections per (database, user) pool unless the database says otherwise.
    public var defaultPoolSize: Int
    /// `min_pool_size`: server connections kept open per pool even when idle.
    public var minPoolSize: Int
    /// `server_loss`: what a client linked to a lost server gets (`recover` or `close`); per database too.
    public var serverLoss: ServerLoss
    /// `server_reset_query`: sent before a server is reused in session mode; "" sends nothing.
    public var serverResetQuery: String
    /// `auth_file`: PgBouncer's userlist.txt (`"user" "password or verifier"` per line), more client
    /// logins next to `[users.NAME]`; re-read at every reload. Relative to the config file.
    public var authFile: String?
    /// `server_reset_query_always`: also run server_reset_query after every transaction in transaction mode (PgBouncer's key).
    public var serverResetQueryAlways: Bool
    /// `max_replica_lag`: a standby further behind than this many seconds gets no new transactions (0: off).
    public var maxReplicaLag: Double
    /// `replica_lag_check_interval`: how often a standby's lag is read while it is in use.
    public var replicaLagCheckInterval: Double
    /// `client_auth`: how clients prove who they are.
    public var clientAuth: ClientAuthMethod
    /// `max_packet_size`: largest protocol message accepted from either side, in bytes.
    public var maxPacketSize: Int
    /// `client_login_timeout`: seconds a client has to finish TLS and authentication; 0 means no limit.
    public var clientLoginTimeout: Double
    /// `query_wait_timeout`: seconds a client may wait for a server; 0 means no limit.
    public var queryWaitTimeout: Double
    /// `server_connect_timeout`: seconds to connect and log in to the upstream.
    public var serverConnectTimeout: Double
    /// `server_login_retry`: longest pause, in seconds, between failed upstream logins while no
    /// client waits (the `min_pool_size` opener); while clients wait the pause is at most 0.5 s.
    public var serverLoginRetry: Double
    /// `cold_start_notice_after`: seconds a client waits for an upstream that is not accepting
    /// connections before it gets a NOTICE saying so; 0 means never.
    public var coldStartNoticeAfter: Double
    /// `server_lifetime`: seconds after which an idle server is closed and replaced; 0 means never.
    public var serverLifetime: Double
    /// `server_idle_timeout`: seconds a server may sit unused before it is closed; 0 means never.
    public var serverIdleTimeout: Double
    /// `shutdown_timeout`: seconds a graceful shutdown waits for clients to finish.
    public var shutdownTimeout: Double
    /// `workers`: event loops (threads) relaying traffic.
    public var workers: Int
    /// `log_level`: least severe message that is logged.
    public var logLevel: LogLevel
    /// `admin_listen`: address of the HTTP endpoints (`/metrics`, `/health`, `/ready`); nil turns them off.
    public var adminListen: ListenAddress?
    /// `client_tls`: disable | allow | prefer | require; unset means prefer when a certificate is configured, else disable.
    public var clientTLS: ClientTLSMode?
    /// `client_tls_cert` / `client_tls_key`: PEM certificate chain and key presented to clients.
    public var clientTLSCert: String?
    public var clientTLSKey: String?
    /// `client_tls_ca`: CA bundle that client certificates must chain to (with `client_tls_verify`).
    public var clientTLSCA: String?
    public var clientTLSVerify: ClientTLSVerify
    public var clientTLSMinVersion: TLSProtocolVersion
    /// `client_tls_ciphers`: OpenSSL cipher list for TLS 1.2 (TLS 1.3 uses OpenSSL's suites).
    public var clientTLSCiphers: String?
    /// Client limits (0: none): per database, per user, per client address (`limit_exempt_addresses`
    /// are CIDR blocks the per-address limit and auth throttling skip).
    public var maxDBClientConnections: Int
    public var maxUserClientConnections: Int
    public var maxClientConnPerAddress: Int
    public var limitExemptAddresses: [String]
    /// Server limits: extra servers for clients that waited `reserve_pool_timeout`; caps per database and per upstream user (0: none).
    public var reservePoolSize: Int
    public var reservePoolTimeout: Double
    public var maxDBConnections: Int
    public var maxUserConnections: Int
    /// `max_queue_length`: clients that may wait for a server per pool (0: no bound).
    public var maxQueueLength: Int
    /// Failed-authentication throttling per client address: delay before the error, and failures allowed per minute (0: off).
    public var authFailureDelay: Double
    public var maxAuthFailures: Int
    /// `max_prepared_statements`: named statements kept per server connection in transaction mode
    /// (least recently used evicted); 0 turns statement mapping off.
    public var maxPreparedStatements: Int
    /// `notify_relay`: in transaction mode, Sluice answers LISTEN/UNLISTEN queries itself and relays
    /// notifications from one listener connection per pool (per database too); false runs them on
    /// the client's server as before.
    public var notifyRelay: Bool
    /// `notify_queue_limit` / `notify_queue_bytes`: notifications (and their bytes) kept for one
    /// client that cannot take them yet; past either, the client is closed with 54000.
    public var notifyQueueLimit: Int
    public var notifyQueueBytes: Int
    /// `notify_max_channels`: channels one pool may LISTEN to; a LISTEN past it gets 54000.
    public var notifyMaxChannels: Int
    /// `metrics_application_limit`: application_name values with series of their own in the
    /// per-application metrics (the busiest ones; the rest are `other`). Read at start only.
    public var metricsApplicationLimit: Int
    /// `server_check_delay`: an idle server unused this long is checked with `server_check_query` before reuse (0: always).
    public var serverCheckDelay: Double
    /// `server_check_query`: the check; "" sends an empty query (cheapest round trip).
    public var serverCheckQuery: String
    /// `client_idle_timeout`: close clients idle (no server, no traffic) this long (0: never).
    public var clientIdleTimeout: Double
    /// `idle_transaction_timeout`: close clients idle inside a transaction this long with 25P03 (0: never).
    public var idleTransactionTimeout: Double
    /// `query_timeout`: cancel queries running longer than this (0: never).
    public var queryTimeout: Double
    /// `tcp_keepalive` and its timings (seconds, count), on client and server sockets.
    public var tcpKeepalive: Bool
    public var tcpKeepidle: Int
    public var tcpKeepintvl: Int
    public var tcpKeepcnt: Int
    /// `admin_users`: users allowed every admin console command.
    public var adminUsers: [String]
    /// `stats_users`: users allowed the read-only admin console commands (SHOW …).
    public var statsUsers: [String]
    /// `leak_detection_threshold`: seconds a client may hold a server before it is a leak suspect (0: off).
    public var leakDetectionThreshold: Double
    /// `log_leak_queries`: include the first 200 characters of a suspect's last statement in its log line.
    public var logLeakQueries: Bool
    /// `[databases.NAME]`: the databases clients may connect to, by the name they use.
    public var databases: [String: DatabaseConfig]
    /// `[users.NAME]`: users that log in to Sluice with their own password.
    public var users: [String: UserConfig]
    /// The file the configuration was loaded from; nil when it came from the environment only.
    public var sourcePath: String?

    /// A configuration holding every key's default, no databases and no users.
    public init() {
        // Placeholders only: every key's real default comes from `SluiceConfig.keys` below.
        listen = []
        poolMode = .transaction
        maxClientConn = 0
        defaultPoolSize = 0
        minPoolSize = 0
        serverResetQuery = ""
        serverResetQueryAlways = false
        maxReplicaLag = 0
        replicaLagCheckInterval = 1
        serverLoss = .recover
        clientAuth = .scramSHA256
        maxPacketSize = 0
        clientLoginTimeout = 0
        queryWaitTimeout = 0
        serverConnectTimeout = 0
        serverLoginRetry = 0
        coldStartNoticeAfter = 0
        serverLifetime = 0
        serverIdleTimeout = 0
        shutdownTimeout = 0
        workers = 0
        logLevel = .info
        adminListen = nil
        maxPreparedStatements = 0
        metricsApplicationLimit = 0
        notifyRelay = true
        notifyQueueLimit = 0
        notifyQueueBytes = 0
        notifyMaxChannels = 0
        maxDBClientConnections = 0
        maxUserClientConnections = 0
        maxClientConnPerAddress = 0
        limitExemptAddresses = []
        reservePoolSize = 0
        reservePoolTimeout = 0
        maxDBConnections = 0
        maxUserConnections = 0
        maxQueueLength = 0
        authFailureDelay = 0
        maxAuthFailures = 0
        serverCheckDelay = 0
        serverCheckQuery = ""
        clientIdleTimeout = 0
        idleTransactionTimeout = 0
        queryTimeout = 0
        tcpKeepalive = true
        tcpKeepidle = 0
        tcpKeepintvl = 0
        tcpKeepcnt = 0
        clientTLS = nil
        clientTLSCert = nil
        clientTLSKey = nil
        clientTLSCA = nil
        clientTLSVerify = ClientTLSVerify.none
        clientTLSMinVersion = .tls12
        clientTLSCiphers = nil
        adminUsers = []
        statsUsers = []
        leakDetectionThreshold = 0
        logLeakQueries = false
        databases = [:]
        users = [:]
        sourcePath = nil
        for key in Self.keys { key.reset(&self) }
    }
}

extension SluiceConfig {
    /// Server connections allowed per pool of `db`: its own `pool_size`, else `default_pool_size`.
    public func poolSize(for db: DatabaseConfig) -> Int {
        db.poolSize ?? defaultPoolSize
    }

    /// Server connections kept open per pool of `db`: its own `min_pool_size`, else the global one,
    /// never more than its pool size.
    public func minPoolSize(for db: DatabaseConfig) -> Int {
        min(db.minPoolSize ?? minPoolSize, poolSize(for: db))
    }

    /// The TLS policy toward clients of `db` (its own `client_tls`, else the global one, else
    /// prefer with a certificate and disable without).
    public func clientTLS(for db: DatabaseConfig?) -> ClientTLSMode {
        db?.clientTLS ?? clientTLS ?? (clientTLSCert != nil && clientTLSKey != nil ? .prefer : .disable)
    }

    /// Effective per-database and per-user limits (0: none).
    public func maxDBClientConnections(for db: DatabaseConfig) -> Int { db.maxDBClientConnections ?? maxDBClientConnections }
    public func maxDBConnections(for db: DatabaseConfig) -> Int { db.maxDBConnections ?? maxDBConnections }
    public func reservePoolSize(for db: DatabaseConfig) -> Int { db.reservePoolSize ?? reservePoolSize }
    public func maxUserClientConnections(for user: String) -> Int { users[user]?.maxUserClientConnections ?? maxUserClientConnections }
    public func maxUserConnections(for user: String) -> Int { users[user]?.maxUserConnections ?? maxUserConnections }

    /// Whether LISTEN/UNLISTEN of `db`'s clients go to the notification relay (transaction mode only):
    /// its own `notify_relay`, else the global one.
    public func notifyRelay(for db: DatabaseConfig) -> Bool { db.notifyRelay ?? notifyRelay }
    /// What a client of `db` linked to a lost server gets: its own `server_loss`, else the global one.
    public func serverLoss(for db: DatabaseConfig) -> ServerLoss {
        db.serverLoss ?? serverLoss
    }

    /// How servers of `db` are lent out: its own `pool_mode`, else the global one.
    public func poolMode(for db: DatabaseConfig) -> PoolMode {
        db.poolMode ?? poolMode
    }
}

// DatabaseConfig: one `[databases.NAME]` table — a name clients use and the upstream behind it.

/// A database clients can connect to, and the upstream its pools connect to.
public struct DatabaseConfig: Sendable, Equatable {
    /// The table's name: the `database` clients put in their startup packet.
    public var name: String
    /// `url`: the upstream (required).
    public var url: UpstreamURL
    /// `pool_size`: overrides `default_pool_size`.
    public var poolSize: Int?
    /// `min_pool_size`: overrides the global `min_pool_size`.
    public var minPoolSize: Int?
    /// `pool_mode`: overrides the global `pool_mode`.
    public var poolMode: PoolMode?
    /// `server_loss`: overrides the global `server_loss`.
    public var serverLoss: ServerLoss?
    /// `client_tls`: overrides the global `client_tls` for clients of this database.
    public var clientTLS: ClientTLSMode?
    /// Per-database overrides of the limits of the same names.
    public var maxDBClientConnections: Int?
    public var maxDBConnections: Int?
    public var reservePoolSize: Int?
    /// `max_replica_lag`: overrides the global one for this database's standbys.
    public var maxReplicaLag: Double?
    /// `notify_relay`: overrides the global `notify_relay` for this database.
    public var notifyRelay: Bool?

    public init(name: String, url: UpstreamURL, poolSize: Int? = nil, minPoolSize: Int? = nil, poolMode: PoolMode? = nil) {
        self.name = name
        self.url = url
        self.poolSize = poolSize
        self.minPoolSize = minPoolSize
        self.poolMode = poolMode
    }

    /// A database with no keys set yet; `url` is a placeholder until the `url` key is applied.
    init(name: String) {
        self.init(name: name, url: UpstreamURL(host: "", user: ""))
    }

    /// Every `[databases.NAME]` key; `SLUICE_DATABASES__<NAME>__<KEY>` and the unknown-key check read it too.
    static let keys: [ConfigKey<DatabaseConfig>] = [
        .init("url", \.url, default: UpstreamURL(host: "", user: ""), required: true, .upstreamURL),
        .init("pool_size", \.poolSize, .integer(1...10_000)),
        .init("min_pool_size", \.minPoolSize, .integer(0...10_000)),
        .init("pool_mode", \.poolMode, .choice),
        .init("client_tls", \.clientTLS, .choice),
        .init("server_loss", \.serverLoss, .choice),
        .init("max_db_client_connections", \.maxDBClientConnections, .integer(0...1_000_000)),
        .init("max_db_connections", \.maxDBConnections, .integer(0...100_000)),
        .init("reserve_pool_size", \.reservePoolSize, .integer(0...10_000)),
        .init("max_replica_lag", \.maxReplicaLag, .seconds(0...86_400)),
        .init("notify_relay", \.notifyRelay, .boolean),
    ]

    /// Names clients cannot use for a database: they reach the admin console.
    static let reservedNames: Set<String> = ["sluice", "pgbouncer"]

    /// Why `name` cannot name a database, or nil when it can.
    static func problem(withName name: String) -> String? {
        if name.isEmpty || name.utf8.count > 63 {
            return "database name must be 1 to 63 characters long"
        }
        if reservedNames.contains(name) {
            return "database name \(quoted(name)) is reserved for the admin console"
        }
        return nil
    }
}
